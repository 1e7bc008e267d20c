"""Staff login: the password, then the TOTP code, or the TOTP enrolment owners and DPOs must make.

Each step is a plain form POST protected by a CSRF token. The session row records how far the staff
member got (``sessions.stage``); every page sends them on to the step they still owe.
"""

from __future__ import annotations

import logging

import pyotp
import segno
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from privasi.config import Settings
from privasi.db import PrivasiSession
from privasi.errors import Conflict, Locked, Unauthenticated
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation, StaffSession, StaffUser
from privasi.orgs.passwords import Passwords
from privasi.secretbox import SecretBoxError
from privasi.web import sessions as web_sessions
from privasi.web.common import (
    HOME_URL,
    LOGIN_URL,
    STAGE_URLS,
    FormText,
    after_step,
    audit,
    current_staff,
    db_of,
    forbidden,
    locked_minutes,
    login_system_actor,
    settings_of,
    staff_actor,
    staff_unit,
    staff_view,
)
from privasi.web.i18n import request_language, t
from privasi.web.render import PrivateHtmlRoute, flash, redirect, render
from privasi.web.sessions import Stage

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=PrivateHtmlRoute)


# --- login -------------------------------------------------------------------------------------


def _login_page(
    request: Request,
    settings: Settings,
    *,
    org: str = "",
    email: str = "",
    error: str | None = None,
    minutes: int = 0,
    status_code: int = 200,
) -> Response:
    nonce, form_token = web_sessions.login_csrf(request, settings)
    response = render(
        request,
        "admin/login.html",
        {"csrf_token": form_token, "org": org, "email": email, "error": error, "minutes": minutes},
        status_code=status_code,
    )
    web_sessions.set_login_csrf_cookie(response, request, settings, nonce)
    return response


@router.get("/admin/login")
def login_form(request: Request) -> Response:
    settings = settings_of(request)
    with db_of(request).session(system=True) as system:
        found = current_staff(system, request)
        if found is not None and web_sessions.stage(*found) is Stage.ready:
            return redirect(HOME_URL)
    return _login_page(request, settings, org=request.query_params.get("org", "")[:63])


@router.post("/admin/login")
def login_submit(
    request: Request,
    org: FormText = "",
    email: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    settings = settings_of(request)
    db = db_of(request)
    if not web_sessions.login_csrf_ok(request, settings, csrf_token):
        return forbidden(request)
    slug = org.strip().lower()[:63]
    email = email.strip()[:254]
    with db.session(system=True) as system:
        organisation = orgs.find_org_by_slug(system, slug) if slug else None
        org_id = organisation.id if organisation else None
    if org_id is None:
        # Spend the time of a real check, so the answer's timing does not tell which slugs exist.
        Passwords(settings).verify(None, password)
        log.info("staff login failed", extra={"reason": "unknown organisation"})
        return _login_page(
            request, settings, org=slug, email=email, error="admin.login.failed", status_code=401
        )
    with db.session(org_id) as session:
        # Failures are caught inside the unit of work so the failure count it records is committed.
        try:
            user = orgs.check_password(session, settings, email, password)
        except Locked as exc:
            log.info("staff login refused", extra={"org_id": org_id, "reason": "locked"})
            actor = login_system_actor(request, org_id)
            audit(session, request, actor, "staff.login_refused", reason="locked")
            return _login_page(
                request,
                settings,
                org=slug,
                email=email,
                error="admin.login.locked",
                minutes=locked_minutes(exc),
                status_code=429,
            )
        except Unauthenticated:
            log.info("staff login failed", extra={"org_id": org_id, "reason": "wrong credentials"})
            # The staff service records failures against an existing account in the audit trail.
            return _login_page(
                request,
                settings,
                org=slug,
                email=email,
                error="admin.login.failed",
                status_code=401,
            )
        # Without a second factor to ask for (and none required) the password is the whole login.
        passed = not user.totp_enabled and not orgs.mfa_required(user)
        token, row = web_sessions.create(session, settings, user, mfa_passed=passed)
        if passed:
            orgs.mark_login(session, user)
        log.info(
            "staff password accepted",
            extra={"org_id": org_id, "user_id": user.id, "mfa_passed": passed},
        )
        response = after_step(request, settings, row, user, token)
    # Signing in again (as someone else, perhaps) ends the session this browser had before.
    with db.session(system=True) as system:
        web_sessions.destroy(system, request.cookies.get(web_sessions.SESSION_COOKIE))
    return response


# --- second factor -----------------------------------------------------------------------------


@router.get("/admin/login/totp")
def totp_form(request: Request) -> Response:
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        _session, row, user = found
        current = web_sessions.stage(row, user)
        if current is not Stage.totp:
            return redirect(STAGE_URLS[current])
        return render(request, "admin/totp.html", {"csrf_token": row.csrf_token, "error": None})


@router.post("/admin/login/totp")
def totp_submit(request: Request, code: FormText = "", csrf_token: FormText = "") -> Response:
    settings = settings_of(request)
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        session, row, user = found
        if not web_sessions.csrf_matches(row.csrf_token, csrf_token):
            return forbidden(request)
        current = web_sessions.stage(row, user)
        if current is not Stage.totp:
            return redirect(STAGE_URLS[current])
        try:
            orgs.verify_totp(session, settings, user, code[:16])
        except Locked as exc:
            log.info("staff second factor refused", extra={"user_id": user.id, "reason": "locked"})
            actor = staff_actor(request, user)
            audit(session, request, actor, "staff.login_refused", reason="locked")
            return render(
                request,
                "admin/totp.html",
                {
                    "csrf_token": row.csrf_token,
                    "error": "admin.totp.locked",
                    "minutes": locked_minutes(exc),
                },
                status_code=429,
            )
        except Unauthenticated:
            log.info("staff second factor failed", extra={"user_id": user.id})
            return render(
                request,
                "admin/totp.html",
                {"csrf_token": row.csrf_token, "error": "admin.totp.wrong"},
                status_code=401,
            )
        token, new_row = web_sessions.rotate(session, settings, row, user, mfa_passed=True)
        orgs.mark_login(session, user)
        log.info("staff login succeeded", extra={"org_id": user.org_id, "user_id": user.id})
        return after_step(request, settings, new_row, user, token)


def _enrolment_secret(session: PrivasiSession, settings: Settings, user: StaffUser) -> str:
    """The secret of the enrolment in progress, or a new one.

    Reloading the page keeps the secret the person may already have scanned.
    """
    try:
        pending = orgs.pending_totp_secret(settings, user)
    except SecretBoxError:
        pending = None  # sealed under an older service secret: start again
    if pending is not None:
        return pending
    org = session.get(Organisation, user.org_id)
    secret, _ = orgs.start_totp_enrolment(session, settings, user, org.slug if org else "")
    return secret


def _mfa_page(
    request: Request,
    session: PrivasiSession,
    settings: Settings,
    row: StaffSession,
    user: StaffUser,
    *,
    error: str | None = None,
    minutes: int = 0,
    status_code: int = 200,
) -> Response:
    secret = _enrolment_secret(session, settings, user)
    org = session.get(Organisation, user.org_id)
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=f"{user.email} ({org.slug if org else ''})", issuer_name=orgs.TOTP_ISSUER
    )
    lang = request_language(request)[0]
    qr = segno.make(uri, error="m").svg_inline(
        scale=5,
        omitsize=True,
        border=2,
        light="#ffffff",
        dark="#111111",
        svgclass="qr-code",
        lineclass="qr-line",
        title=t("admin.mfa.qr_title", lang),
    )
    context = {
        "csrf_token": row.csrf_token,
        "staff": staff_view(session, user),
        "required": orgs.mfa_required(user),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "otpauth_uri": uri,
        # segno builds the SVG from the URI alone; nothing typed by a visitor reaches it.
        "qr_svg": Markup(qr),  # noqa: S704
        "error": error,
        "minutes": minutes,
    }
    return render(request, "admin/mfa_setup.html", context, status_code=status_code)


def _mfa_allowed(row: StaffSession, user: StaffUser) -> Stage | None:
    """None when the enrolment page may be shown, else the stage to send the person to."""
    current = web_sessions.stage(row, user)
    if current is Stage.mfa_setup or (current is Stage.ready and not user.totp_enabled):
        return None
    return current


@router.get("/admin/mfa/setup")
def mfa_setup_form(request: Request) -> Response:
    settings = settings_of(request)
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        session, row, user = found
        elsewhere = _mfa_allowed(row, user)
        if elsewhere is not None:
            return redirect(STAGE_URLS[elsewhere])
        return _mfa_page(request, session, settings, row, user)


@router.post("/admin/mfa/setup")
def mfa_setup_submit(request: Request, code: FormText = "", csrf_token: FormText = "") -> Response:
    settings = settings_of(request)
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        session, row, user = found
        if not web_sessions.csrf_matches(row.csrf_token, csrf_token):
            return forbidden(request)
        elsewhere = _mfa_allowed(row, user)
        if elsewhere is not None:
            return redirect(STAGE_URLS[elsewhere])
        try:
            orgs.confirm_totp_enrolment(session, settings, user, code[:16])
        except Locked as exc:
            return _mfa_page(
                request,
                session,
                settings,
                row,
                user,
                error="admin.totp.locked",
                minutes=locked_minutes(exc),
                status_code=429,
            )
        except (Unauthenticated, Conflict):
            return _mfa_page(
                request, session, settings, row, user, error="admin.totp.wrong", status_code=400
            )
        token, new_row = web_sessions.rotate(session, settings, row, user, mfa_passed=True)
        orgs.mark_login(session, user)
        log.info("staff enrolled TOTP", extra={"org_id": user.org_id, "user_id": user.id})
        response = after_step(request, settings, new_row, user, token)
        flash(response, "admin.mfa.enabled", "success")
        return response
