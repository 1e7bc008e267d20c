"""The domain errors. Services raise these; ``privasi.http.problems`` maps them to HTTP in one place.

Messages are shown to API clients, so they never contain personal data.
"""

from __future__ import annotations

from typing import Any


class PrivasiError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ValidationFailed(PrivasiError):
    status = 422
    type = "validation-error"
    title = "The input is not valid"


class NotFound(PrivasiError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(PrivasiError):
    status = 409
    type = "conflict"
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    type = "invalid-transition"
    title = "This change is not allowed from the current state"


class Unauthenticated(PrivasiError):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"


class Forbidden(PrivasiError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class Locked(PrivasiError):
    status = 423
    type = "locked"
    title = "Temporarily locked"


class RateLimited(PrivasiError):
    status = 429
    type = "rate-limited"
    title = "Too many attempts"


class PayloadTooLarge(PrivasiError):
    status = 413
    type = "payload-too-large"
    title = "Request body too large"


class UnscopedQueryError(RuntimeError):
    """A statement on a tenant table ran without an organisation scope: a programming error."""
