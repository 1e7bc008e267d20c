"""CSRF protection for public forms that have no session: a double-submit cookie.

The form carries an HMAC of a random nonce kept in an HttpOnly cookie; a planted cookie cannot
be matched without the service secret. The staff login and the privacy-center forms use it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from privasi.config import Settings
from privasi.web.render import render
from privasi.web.sessions import cookie_secure, csrf_matches


class DoubleSubmit:
    def __init__(self, cookie: str, label: str, *, max_age: int = 2 * 3600) -> None:
        self.cookie = cookie
        self.label = label
        self.max_age = max_age

    def _sign(self, settings: Settings, nonce: str) -> str:
        key = settings.resolved_secret_key()
        return hmac.new(key, f"{self.label}\x00{nonce}".encode(), hashlib.sha256).hexdigest()

    def nonce(self, request: Request) -> tuple[str, bool]:
        """The visitor's nonce, or a new one (``True``: it must be set with ``remember``)."""
        nonce = request.cookies.get(self.cookie, "")
        if 20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
            return nonce, False
        return secrets.token_urlsafe(32), True

    def token(self, settings: Settings, nonce: str) -> str:
        return self._sign(settings, nonce)

    def remember(
        self, response: Response, request: Request, settings: Settings, nonce: str, path: str
    ) -> None:
        response.set_cookie(
            self.cookie,
            nonce,
            max_age=self.max_age,
            path=path,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request, settings),
        )

    def render(
        self,
        request: Request,
        settings: Settings,
        template: str,
        values: dict[str, Any],
        path: str,
        status: int = 200,
    ) -> Response:
        """Render a page whose forms carry ``csrf_token``, setting the nonce cookie when new."""
        nonce, fresh = self.nonce(request)
        response = render(
            request,
            template,
            {**values, "csrf_token": self.token(settings, nonce)},
            status_code=status,
        )
        if fresh:
            self.remember(response, request, settings, nonce, path)
        return response

    def ok(self, request: Request, settings: Settings, provided: Any) -> bool:
        nonce = request.cookies.get(self.cookie)
        if not nonce or not isinstance(provided, str):
            return False
        return csrf_matches(self._sign(settings, nonce), provided)
