"""``/admin/staff``: staff accounts and their roles, second factor and password resets, sign-in
sessions; ``/admin/account``: one's own sessions and "sign out everywhere else".

Reading needs ``staff.read``; every change needs ``staff.manage`` (owners). A one-time password is
shown once, on the answer to the form that made it, and never again on a page.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import Conflict, Forbidden, NotFound, PrivasiError
from privasi.orgs import service as orgs
from privasi.orgs import staff as staff_service
from privasi.orgs.models import StaffUser
from privasi.web.admin.views import error_key, not_found, page_tools, undo
from privasi.web.common import FormText, db_of, settings_of
from privasi.web.render import ROLE_KEYS, flash, redirect
from privasi.web.staff import StaffPage, StaffRoute, staff_page

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

LIST_URL = "/admin/staff"


def _person(page: StaffPage, user_id: str) -> StaffUser:
    try:
        return orgs.get_staff(page.session, user_id[:36])
    except NotFound:
        raise not_found(page.request) from None


def _detail_url(user_id: str) -> str:
    return f"{LIST_URL}/{user_id}"


@router.get("/admin/staff")
def staff_list(request: Request) -> Response:
    with staff_page(request, "staff.read") as page:
        return _list_page(page)


def _list_page(
    page: StaffPage,
    *,
    created: StaffUser | None = None,
    one_time: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        **page_tools(page),
        "people": orgs.list_staff(page.session),
        # Only the roles this reader may hand out: a role holding more than they do is refused.
        "roles": _within_reach(page),
        "created": created,
        "one_time": one_time,
        "error": error,
        "form": form or {},
        "me": page.user_id,
    }
    return page.render("admin/staff/list.html", context, status_code=status_code)


@router.post("/admin/staff")
def staff_create(
    request: Request,
    email: FormText = "",
    name: FormText = "",
    role: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    settings = settings_of(request)
    with staff_page(request, "staff.manage", csrf=csrf_token) as page:
        form = {"email": email[:254], "name": name[:200], "role": role}
        if role not in ROLE_KEYS:
            return _list_page(page, error="admin.staff.errors.role", form=form, status_code=400)
        try:
            user, one_time = orgs.create_staff(
                page.session, settings, email=email, role=role, name=name, by=page.principal
            )
        except PrivasiError as exc:
            undo(page.session)
            key = _create_error(exc)
            status = 403 if isinstance(exc, Forbidden) else 400
            return _list_page(page, error=key, form=form, status_code=status)
        log.info("staff account created", extra={"org_id": page.org.id, "user_id": user.id})
        # Shown on this answer only: the page is not stored (no-store) and the list never shows it.
        return _list_page(page, created=user, one_time=one_time)


def _create_error(exc: PrivasiError) -> str:
    if isinstance(exc, Conflict):  # the only conflict on creation: the address is taken
        return "admin.staff.errors.email_taken"
    if exc.extra.get("field") == "email":
        return "admin.staff.errors.email"
    return error_key(exc)


@router.get("/admin/staff/{user_id}")
def staff_detail(request: Request, user_id: str) -> Response:
    with staff_page(request, "staff.read") as page:
        return _detail_page(page, _person(page, user_id))


def _detail_page(
    page: StaffPage, user: StaffUser, *, one_time: str | None = None, status_code: int = 200
) -> Response:
    own = user.id == page.user_id
    # Sessions show when and for how long someone is signed in: for the owner, or oneself.
    sessions = (
        staff_service.list_sessions(page.session, user) if page.can("staff.manage") or own else None
    )
    context = {
        **page_tools(page),
        "person": user,
        # The current role stays listed so the form shows it selected, even when out of reach.
        "roles": [r for r in ROLE_KEYS if r in _within_reach(page) or r == user.role],
        "own": own,
        "sessions": sessions,
        "current_session": page.staff_session_id,
        "one_time": one_time,
        "mfa_required": orgs.mfa_required(user),
    }
    return page.render("admin/staff/detail.html", context, status_code=status_code)


def _within_reach(page: StaffPage) -> list[str]:
    return staff_service.roles_within_reach(page.principal)


def _changed(page: StaffPage, user: StaffUser, key: str, level: str = "success") -> Response:
    response = redirect(_detail_url(user.id))
    flash(response, key, level)
    return response


@router.post("/admin/staff/{user_id}/role")
def staff_role(
    request: Request, user_id: str, role: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "staff.manage", csrf=csrf_token) as page:
        user = _person(page, user_id)
        if role not in ROLE_KEYS:
            return _changed(page, user, "admin.staff.errors.role", "error")
        if role == user.role:
            return _changed(page, user, "admin.staff.role_unchanged", "info")
        try:
            orgs.update_staff(page.session, user, role=role, by=page.principal)
        except PrivasiError as exc:
            undo(page.session)
            return _changed(page, _person(page, user_id), _owner_error(exc), "error")
        return _changed(page, user, "admin.staff.role_changed")


def _owner_error(exc: PrivasiError) -> str:
    # The staff service refuses a role change or a disabling only to keep an active owner.
    return "admin.staff.errors.last_owner" if isinstance(exc, Conflict) else error_key(exc)


@router.post("/admin/staff/{user_id}/active")
def staff_active(
    request: Request, user_id: str, active: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "staff.manage", csrf=csrf_token) as page:
        user = _person(page, user_id)
        enable = active == "1"
        if not enable and user.id == page.user_id:
            return _changed(page, user, "admin.staff.errors.disable_self", "error")
        try:
            orgs.update_staff(page.session, user, active=enable, by=page.principal)
        except PrivasiError as exc:
            undo(page.session)
            return _changed(page, _person(page, user_id), _owner_error(exc), "error")
        if not enable:
            # A disabled account is refused at every request already; its sessions go as well.
            staff_service.end_sessions(page.session, user, by=page.principal)
        return _changed(page, user, "admin.staff.enabled" if enable else "admin.staff.disabled")


@router.post("/admin/staff/{user_id}/totp-reset")
def staff_totp_reset(request: Request, user_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "staff.manage", csrf=csrf_token) as page:
        user = _person(page, user_id)
        try:
            orgs.disable_totp(page.session, user, by=page.principal)
        except PrivasiError as exc:  # the account's role holds more than the reader does
            undo(page.session)
            return _changed(page, _person(page, user_id), error_key(exc), "error")
        # Whoever holds a session made with the old factor must sign in and enrol again.
        staff_service.end_sessions(
            page.session, user, keep=_own_session(page, user), by=page.principal
        )
        log.info("staff second factor reset", extra={"org_id": page.org.id, "user_id": user.id})
        return _changed(page, user, "admin.staff.totp_reset")


@router.post("/admin/staff/{user_id}/password-reset")
def staff_password_reset(request: Request, user_id: str, csrf_token: FormText = "") -> Response:
    settings = settings_of(request)
    with staff_page(request, "staff.manage", csrf=csrf_token) as page:
        user = _person(page, user_id)
        try:
            one_time = orgs.reset_password(page.session, settings, user, by=page.principal)
        except PrivasiError as exc:  # the account's role holds more than the reader does
            undo(page.session)
            return _changed(page, _person(page, user_id), error_key(exc), "error")
        staff_service.end_sessions(
            page.session, user, keep=_own_session(page, user), by=page.principal
        )
        log.info("staff password reset", extra={"org_id": page.org.id, "user_id": user.id})
        return _detail_page(page, user, one_time=one_time)


@router.post("/admin/staff/{user_id}/logout-everywhere")
def staff_logout_everywhere(request: Request, user_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, None, csrf=csrf_token) as page:
        user = _person(page, user_id)
        own = user.id == page.user_id
        if not own:
            page.require("staff.manage")
        ended = staff_service.end_sessions(
            page.session, user, keep=_own_session(page, user), by=page.principal
        )
        response = redirect(_detail_url(user.id))
        flash(response, "admin.staff.sessions_ended", "success", count=ended)
        return response


def _own_session(page: StaffPage, user: StaffUser) -> str | None:
    """Acting on oneself keeps the session in use; the page would sign its reader out otherwise."""
    return page.staff_session_id if user.id == page.user_id else None


# --- one's own account -------------------------------------------------------------------------


@router.get("/admin/account")
def account(request: Request) -> Response:
    with staff_page(request) as page:
        # A processor's staff acting in a hosted organisation have their account at home.
        home_org_id = page.principal.home_org_id
        with db_of(request).session(home_org_id) as home:
            user = orgs.get_staff(home, page.user_id)
            sessions = staff_service.list_sessions(home, user)
            context = {
                **page_tools(page),
                "person": user,
                "sessions": sessions,
                "current_session": page.staff_session_id,
                "totp_enabled": user.totp_enabled,
            }
            return page.render("admin/staff/account.html", context)


@router.post("/admin/account/logout-everywhere")
def account_logout_everywhere(request: Request, csrf_token: FormText = "") -> Response:
    with staff_page(request, None, csrf=csrf_token) as page:
        with db_of(request).session(page.principal.home_org_id) as home:
            user = orgs.get_staff(home, page.user_id)
            ended = staff_service.end_sessions(
                home, user, keep=page.staff_session_id, by=page.principal
            )
        response = redirect("/admin/account")
        flash(response, "admin.staff.sessions_ended", "success", count=ended)
        return response
