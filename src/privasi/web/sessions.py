"""Server-side staff sessions, their cookie, and CSRF protection.

The cookie carries a random 32-byte token; the database keeps only its SHA-256
(``StaffSession.id``), so a copy of the database does not let anyone sign in. Each session has its
own CSRF token, checked on every form POST and, for API calls made with the cookie, in the
``X-CSRF-Token`` header. Before login there is no session yet, so the login form uses a signed
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response

from privasi.config import Environment, Settings
from privasi.db import PrivasiSession, utcnow
from privasi.errors import Forbidden, NotFound
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation, StaffSession, StaffUser
from privasi.orgs.service import Principal

log = logging.getLogger("privasi.web")

SESSION_COOKIE = "privasi_session"
LOGIN_CSRF_COOKIE = "privasi_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A session that has passed the password but not yet the second factor lives only this long.
PENDING_MFA_MINUTES = 15


class Stage(StrEnum):
    """What a signed-in staff member must do before reaching the admin pages."""

    totp = "totp"  # enter a code from the authenticator app
    mfa_setup = "mfa_setup"  # owner and dpo accounts must enrol TOTP first
    password = "password"  # replace a one-time password
    ready = "ready"


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def stage(staff_session: StaffSession, user: StaffUser) -> Stage:
    if user.totp_enabled and not staff_session.mfa_passed:
        return Stage.totp
    if not user.totp_enabled and orgs.mfa_required(user):
        return Stage.mfa_setup
    if not staff_session.mfa_passed:
        # An account without TOTP that has not been let through (cannot happen through the login
        # page, which marks such sessions as passed); refuse rather than guess.
        return Stage.totp
    if user.must_change_password:
        return Stage.password
    return Stage.ready


def create(
    session: PrivasiSession,
    settings: Settings,
    user: StaffUser,
    *,
    mfa_passed: bool,
    acting_org_id: str | None = None,
) -> tuple[str, StaffSession]:
    """A new session for ``user``; returns the cookie token (shown once) and the row."""
    now = utcnow()
    # Housekeeping while we are here: this user's expired sessions are of no use to anyone.
    session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id,
            StaffSession.org_id == user.org_id,
            StaffSession.expires_at <= now,
        )
    )
    lifetime = (
        timedelta(hours=settings.session_hours)
        if mfa_passed
        else timedelta(minutes=min(PENDING_MFA_MINUTES, settings.session_hours * 60))
    )
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        id=token_id(token),
        org_id=user.org_id,
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        mfa_passed=mfa_passed,
        acting_org_id=acting_org_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return token, row


def rotate(
    session: PrivasiSession,
    settings: Settings,
    old: StaffSession,
    user: StaffUser,
    *,
    mfa_passed: bool,
) -> tuple[str, StaffSession]:
    """Replace a session by a new token when its privileges change, so a token seen before the
    second factor (or planted by someone else) is worthless afterwards."""
    token, row = create(
        session, settings, user, mfa_passed=mfa_passed, acting_org_id=old.acting_org_id
    )
    session.delete(old)
    session.flush()
    return token, row


def load(session: PrivasiSession, token: str | None) -> StaffSession | None:
    """The live session for a cookie token (``session`` is a system session: the org is unknown)."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(select(StaffSession).where(StaffSession.id == token_id(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def load_with_user(
    session: PrivasiSession, token: str | None
) -> tuple[StaffSession, StaffUser] | None:
    row = load(session, token)
    if row is None:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active or user.org_id != row.org_id:
        return None
    return row, user


def destroy(session: PrivasiSession, token: str | None) -> None:
    if token:
        session.execute(delete(StaffSession).where(StaffSession.id == token_id(token)))


def destroy_others(session: PrivasiSession, user: StaffUser, keep: StaffSession) -> None:
    """End every other session of the user, e.g. after a password change."""
    session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id,
            StaffSession.org_id == user.org_id,
            StaffSession.id != keep.id,
        )
    )


# --- cookies -----------------------------------------------------------------------------------


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Secure whenever the service is public over HTTPS. Behind a TLS proxy the request itself
    arrives over plain HTTP, so its scheme alone would send session cookies unprotected."""
    if settings.env is Environment.production or settings.public_url.startswith("https://"):
        return True
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


# --- CSRF --------------------------------------------------------------------------------------


def csrf_matches(expected: str | None, provided: str | None) -> bool:
    if not expected or not provided:
        return False
    return hmac.compare_digest(expected.encode(), provided.encode())


def _login_csrf_signature(settings: Settings, nonce: str) -> str:
    key = settings.resolved_secret_key()
    return hmac.new(key, b"login-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def login_csrf(request: Request, settings: Settings) -> tuple[str, str]:
    """The cookie nonce (reused if the browser has one) and the matching form token.

    The form token is an HMAC of the cookie, not a copy of it, so someone able to plant a cookie
    (from a sibling sub-domain, say) still cannot forge a matching form.
    """
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (20 <= len(nonce) <= 64) or not nonce.replace("-", "").replace("_", "").isalnum():
        nonce = secrets.token_urlsafe(32)
    return nonce, _login_csrf_signature(settings, nonce)


def set_login_csrf_cookie(
    response: Response, request: Request, settings: Settings, nonce: str
) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        nonce,
        max_age=2 * 3600,
        path="/admin/login",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
    )


def login_csrf_ok(request: Request, settings: Settings, provided: str | None) -> bool:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce:
        return False
    return csrf_matches(_login_csrf_signature(settings, nonce), provided)


# --- the API's view of a staff session ---------------------------------------------------------


def principal_from_cookie(
    system: PrivasiSession,
    request: Request,
    *,
    request_id: str | None = None,
    client_addr: str | None = None,
    **context: Any,
) -> Principal | None:
    """The staff principal behind the session cookie, or None when there is no usable session.

    Only a session that has completed every login step counts. Requests with an unsafe method
    must carry the session's CSRF token in ``X-CSRF-Token``: the browser sends a cookie for any
    site's request, so the cookie alone cannot prove the staff member meant the call.
    """
    found = load_with_user(system, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    staff_session, user = found
    if stage(staff_session, user) is not Stage.ready:
        return None
    if request.method.upper() not in SAFE_METHODS and not csrf_matches(
        staff_session.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(f"requests made with a staff session must send the {CSRF_HEADER} header")
    principal = orgs.staff_principal(
        user, request_id=request_id, client_addr=client_addr, **context
    )
    return acting_principal(system, staff_session, principal)


def acting_principal(
    system: PrivasiSession, staff_session: StaffSession, principal: Principal
) -> Principal:
    """The principal in the organisation the session switched to, while the grant lasts."""
    if not staff_session.acting_org_id or staff_session.acting_org_id == principal.home_org_id:
        return principal
    target = system.get(Organisation, staff_session.acting_org_id)
    try:
        if target is None:
            raise NotFound("organisation not found")
        return orgs.act_in(system, principal, target.slug)
    except NotFound:
        # The grant was revoked (or the organisation removed) since the switch: back home.
        staff_session.acting_org_id = None
        system.flush()
        return principal
