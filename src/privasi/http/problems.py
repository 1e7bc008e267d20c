"""Domain errors to RFC 9457 problem+json, in one place.

``type`` values are stable URNs (``urn:privasi:problem:not-found``) that clients may switch on.
The OpenAI-compatible ``/v1/`` routes answer in OpenAI's error shape instead.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from privasi.errors import PrivasiError

log = logging.getLogger("privasi.http")
PROBLEM_JSON = "application/problem+json"
_STATUS_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def problem_type(name: str) -> str:
    return f"urn:privasi:problem:{name}"


def _is_openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def problem_response(
    request: Request,
    status: int,
    type_name: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if _is_openai(request):
        body: dict[str, Any] = {
            "error": {"message": detail, "type": type_name.replace("-", "_"), "code": type_name}
        }
        return JSONResponse(body, status_code=status, headers=headers)
    body = {
        "type": problem_type(type_name),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(PrivasiError)
    async def _domain(request: Request, exc: PrivasiError) -> JSONResponse:
        headers = {}
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        if exc.status == 401 and not _is_openai(request):
            headers["WWW-Authenticate"] = "Bearer"
        return problem_response(
            request, exc.status, exc.type, exc.title, exc.detail, exc.extra, headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # The path inside the request, e.g. "body.scopes.0"; the input value is left out
                # because it may be personal data.
                "field": ".".join(str(part) for part in err.get("loc", ())),
                "message": err.get("msg", "invalid"),
                "code": err.get("type", "invalid"),
            }
            for err in exc.errors()
        ]
        return problem_response(
            request,
            422,
            "validation-error",
            "The input is not valid",
            f"{len(errors)} field(s) are not valid",
            {"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_name, title = _STATUS_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem_response(
            request,
            exc.status_code,
            type_name,
            title,
            detail,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The route template, never the raw path: paths carry bearer tokens (/downloads/{token}).
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        log.exception("unhandled error", extra={"path": route})
        return problem_response(
            request, 500, "internal-error", "Internal error", "an unexpected error occurred"
        )
