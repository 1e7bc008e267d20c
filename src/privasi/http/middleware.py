"""Pure ASGI middleware: request ids, body size limit, metrics and access logs.

Written as raw ASGI (not ``BaseHTTPMiddleware``) so streaming bodies are counted as they arrive and
nothing is buffered twice.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privasi.logs import request_id_var

log = logging.getLogger("privasi.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "privasi_http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "privasi_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            registry=self.registry,
        )


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(scope, send, request_id)
            self._observe(scope, 413, started)
            request_id_var.reset(token)
            return

        received = 0
        response_started = False
        rejected = False

        async def limited_receive() -> Message:
            # Past the limit, answer 413 ourselves and tell the app the client has gone, so it
            # stops reading; whatever it tries to send afterwards is dropped.
            nonlocal received, rejected, response_started
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    rejected = True
                    if not response_started:
                        response_started = True
                        status["code"] = 413
                        await self._reject(scope, send, request_id)
                    return {"type": "http.disconnect"}
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except Exception:
            if not rejected:
                raise
        finally:
            self._observe(scope, status["code"], started)
            request_id_var.reset(token)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        elapsed = time.perf_counter() - started
        method = scope.get("method", "")
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.duration.labels(method, template).observe(elapsed)
        # The route template, never the raw path: paths can carry identifiers.
        log.info(
            "request",
            extra={
                "method": method,
                "route": template,
                "status": status,
                "ms": round(elapsed * 1000, 1),
            },
        )

    async def _reject(self, scope: Scope, send: Send, request_id: str) -> None:
        detail = f"request bodies are limited to {self.max_body} bytes"
        path = scope.get("path", "")
        body: dict[str, Any]
        if path.startswith("/v1/"):
            # The OpenAI-compatible gateway answers in OpenAI's error shape, which its SDKs read.
            body = {
                "error": {
                    "message": detail,
                    "type": "invalid_request_error",
                    "code": "request_too_large",
                }
            }
            content_type = b"application/json"
        else:
            body = {
                "type": "urn:privasi:problem:payload-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": detail,
                "instance": path,
                "request_id": request_id,
            }
            content_type = b"application/problem+json"
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(raw)).encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})
