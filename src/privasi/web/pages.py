"""The staff pages: login (``login.py``), password change, switching organisation and logout
(the dashboard is ``privasi.web.admin``). ``router`` is what the app includes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.db import PrivasiSession
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation, StaffSession, StaffUser
from privasi.orgs.passwords import Passwords
from privasi.web import login
from privasi.web import sessions as web_sessions
from privasi.web.common import (
    LOGIN_URL,
    STAGE_URLS,
    FormText,
    after_step,
    audit,
    current_staff,
    db_of,
    forbidden,
    settings_of,
    staff_actor,
    staff_unit,
    staff_view,
)
from privasi.web.render import PrivateHtmlRoute, flash, redirect, render
from privasi.web.sessions import Stage

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=PrivateHtmlRoute)
router.include_router(login.router)

MIN_PASSWORD_LENGTH = 12


# --- password ----------------------------------------------------------------------------------


def _password_page(
    request: Request,
    session: PrivasiSession,
    row: StaffSession,
    user: StaffUser,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "csrf_token": row.csrf_token,
        "forced": user.must_change_password,
        "min_length": MIN_PASSWORD_LENGTH,
        "error": error,
    }
    if web_sessions.stage(row, user) is Stage.ready:
        context["staff"] = staff_view(session, user)
    return render(request, "admin/password.html", context, status_code=status_code)


def _password_allowed(row: StaffSession, user: StaffUser) -> Stage | None:
    current = web_sessions.stage(row, user)
    return None if current in (Stage.password, Stage.ready) else current


@router.get("/admin/password")
def password_form(request: Request) -> Response:
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        session, row, user = found
        elsewhere = _password_allowed(row, user)
        if elsewhere is not None:
            return redirect(STAGE_URLS[elsewhere])
        return _password_page(request, session, row, user)


def _password_problem(
    passwords: Passwords, user: StaffUser, current: str, new: str, confirm: str
) -> str | None:
    """The catalogue key of what is wrong with a password change, or None."""
    # A forced change comes right after a login with the one-time password: not asked again.
    if not user.must_change_password and not passwords.verify(user.password_hash, current):
        return "admin.password.wrong_current"
    if new != confirm:
        return "admin.password.mismatch"
    if len(new) < MIN_PASSWORD_LENGTH:
        return "admin.password.too_short"
    if passwords.verify(user.password_hash, new):
        return "admin.password.same_as_old"
    return None


@router.post("/admin/password")
def password_submit(
    request: Request,
    current_password: FormText = "",
    password: FormText = "",
    password_confirm: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    settings = settings_of(request)
    with staff_unit(request) as found:
        if found is None:
            return redirect(LOGIN_URL)
        session, row, user = found
        if not web_sessions.csrf_matches(row.csrf_token, csrf_token):
            return forbidden(request)
        elsewhere = _password_allowed(row, user)
        if elsewhere is not None:
            return redirect(STAGE_URLS[elsewhere])
        problem = _password_problem(
            Passwords(settings), user, current_password, password, password_confirm
        )
        if problem is None:
            try:
                orgs.set_password(session, settings, user, password)
            except ValidationFailed:
                problem = "admin.password.too_weak"
        if problem is not None:
            return _password_page(request, session, row, user, error=problem, status_code=400)
        # Anyone holding an older session of this account (the reason to change it, perhaps) is out.
        web_sessions.destroy_others(session, user, keep=row)
        token, new_row = web_sessions.rotate(session, settings, row, user, mfa_passed=True)
        log.info("staff password changed", extra={"org_id": user.org_id, "user_id": user.id})
        response = after_step(request, settings, new_row, user, token)
        flash(response, "admin.password.changed", "success")
        return response


# --- switching organisation, logout (the home page: privasi.web.admin.home) -------------------


@router.post("/admin/switch-org")
def switch_org(request: Request, org: FormText = "", csrf_token: FormText = "") -> Response:
    with db_of(request).session(system=True) as system:
        found = current_staff(system, request)
        if found is None:
            return redirect(LOGIN_URL)
        row, user = found
        if not web_sessions.csrf_matches(row.csrf_token, csrf_token):
            return forbidden(request)
        current = web_sessions.stage(row, user)
        if current is not Stage.ready:
            return redirect(STAGE_URLS[current])
        response = redirect("/admin")
        home_org = system.get(Organisation, user.org_id)
        slug = org.strip().lower()[:63]
        if not slug or (home_org is not None and slug == home_org.slug):
            row.acting_org_id = None
            flash(response, "admin.switch.home", "success")
            return response
        try:
            principal = orgs.act_in(system, staff_actor(request, user), slug)
        except NotFound:
            flash(response, "admin.switch.failed", "error")
            return response
        row.acting_org_id = principal.org_id
        # Recorded in the hosted organisation's trail: the controller sees who entered and when.
        audit(system, request, principal, "staff.entered_org", grant_id=principal.grant_id)
        target = system.get(Organisation, principal.org_id)
        log.info(
            "staff switched organisation",
            extra={"user_id": user.id, "org_id": principal.org_id, "grant_id": principal.grant_id},
        )
        flash(response, "admin.switch.done", "success", org=target.name if target else slug)
        return response


@router.post("/admin/logout")
def logout(request: Request, csrf_token: FormText = "") -> Response:
    settings = settings_of(request)
    response = redirect(LOGIN_URL)
    web_sessions.clear_session_cookie(response, request, settings)
    token = request.cookies.get(web_sessions.SESSION_COOKIE)
    with staff_unit(request) as found:
        if found is None:
            # Nothing usable behind the cookie (expired, or the account was disabled): drop it.
            with db_of(request).session(system=True) as system:
                web_sessions.destroy(system, token)
            return response
        session, row, user = found
        if not web_sessions.csrf_matches(row.csrf_token, csrf_token):
            return forbidden(request)
        web_sessions.destroy(session, token)
        log.info("staff logged out", extra={"org_id": row.org_id, "user_id": row.user_id})
        audit(session, request, staff_actor(request, user), "staff.logged_out")
    flash(response, "admin.logout.done", "success")
    return response
