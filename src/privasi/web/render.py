"""The Jinja2 environment, page rendering, flash messages and the security headers of HTML pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Coroutine, Mapping
from functools import lru_cache
from typing import Any

from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from privasi.web import TEMPLATES_DIR
from privasi.web.i18n import LANG_COOKIE, LANGUAGES, catalogue, request_language, t

FLASH_COOKIE = "privasi_flash"
ROLE_KEYS = ("owner", "dpo", "agent", "auditor")
FLASH_LEVELS = frozenset({"info", "success", "error"})

# No inline scripts or styles anywhere: pages link /static files, and the QR code is inline SVG
# markup (presentation attributes, not style), which this policy allows.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def apply_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class HtmlRoute(APIRoute):
    """A route whose every response (pages, redirects, errors) carries the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_headers(request: Request) -> Response:
            response = await handler(request)
            apply_security_headers(response)
            return response

        return with_headers


class PrivateHtmlRoute(HtmlRoute):
    """Staff pages: never stored by the browser or a proxy, since they show an account's data."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def no_store(request: Request) -> Response:
            response = await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return no_store


@pass_context
def _translate(context: Context, key: str, **params: Any) -> str:
    return t(key, context.get("lang") or LANGUAGES[0], **params)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = _translate
    env.globals["t"] = _translate
    env.globals["languages"] = LANGUAGES
    return env


# --- flash messages ----------------------------------------------------------------------------


def flash(response: Response, key: str, level: str = "info", **params: str | int) -> None:
    """Show a catalogue message on the next page; the text is looked up there, in its language."""
    payload = json.dumps([level, key, params], separators=(",", ":"))
    response.set_cookie(
        FLASH_COOKIE,
        base64.urlsafe_b64encode(payload.encode()).decode(),
        max_age=300,
        path="/",
        httponly=True,
        samesite="lax",
    )


def _read_flash(request: Request, lang: str) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        level, key, params = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return []
    # Only catalogue keys are accepted, so a planted cookie cannot put arbitrary text on a page.
    if level not in FLASH_LEVELS or key not in catalogue()[lang] or not isinstance(params, dict):
        return []
    return [{"level": level, "text": t(key, lang, **{str(k): str(v) for k, v in params.items()})}]


# --- rendering ---------------------------------------------------------------------------------


def redirect(url: str) -> RedirectResponse:
    # 303 so a POST is followed by a GET, and reloading the next page does not resubmit the form.
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page in the visitor's language, with flash messages and the security headers."""
    lang, remember = request_language(request)
    flashes = _read_flash(request, lang)
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "path": request.url.path,
        "flashes": flashes,
        "csrf_token": "",
        "staff": None,
        "language_names": {code: t("common.language_name", code) for code in LANGUAGES},
        "role_names": {role: t(f"roles.{role}", lang) for role in ROLE_KEYS},
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if remember:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, path="/", httponly=True, samesite="lax"
        )
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    apply_security_headers(response)
    return response
