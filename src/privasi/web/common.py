"""Helpers every page module shares: app state, the signed-in staff member, standard responses."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from privasi.config import Settings
from privasi.db import Database, PrivasiSession
from privasi.errors import Locked
from privasi.http.deps import truncated_client
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation, StaffSession, StaffUser
from privasi.orgs.service import Principal
from privasi.web import sessions as web_sessions
from privasi.web.render import redirect, render
from privasi.web.sessions import SESSION_COOKIE, Stage

LOGIN_URL = "/admin/login"
HOME_URL = "/admin"
STAGE_URLS = {
    Stage.totp: "/admin/login/totp",
    Stage.mfa_setup: "/admin/mfa/setup",
    Stage.password: "/admin/password",
    Stage.ready: HOME_URL,
}

FormText = Annotated[str, Form()]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def db_of(request: Request) -> Database:
    return request.app.state.db


def current_staff(
    system: PrivasiSession, request: Request
) -> tuple[StaffSession, StaffUser] | None:
    return web_sessions.load_with_user(system, request.cookies.get(SESSION_COOKIE))


@contextmanager
def staff_unit(
    request: Request,
) -> Iterator[tuple[PrivasiSession, StaffSession, StaffUser] | None]:
    """A unit of work in the signed-in person's own organisation, with their session and account.

    Scoped rather than a system session, so the staff service records its audit events (sign-in,
    second factor, password) in that organisation's chain.
    """
    db = db_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    with db.session(system=True) as system:
        row = web_sessions.load(system, token)
        org_id = row.org_id if row is not None else None
    if org_id is None:
        yield None
        return
    with db.session(org_id) as session:
        found = web_sessions.load_with_user(session, token)
        yield (session, *found) if found is not None else None


def forbidden(request: Request) -> Response:
    context = {"title_key": "errors.csrf.title", "body_key": "errors.csrf.body"}
    return render(request, "error.html", context, status_code=403)


def locked_minutes(exc: Locked) -> int:
    return max(1, math.ceil(int(exc.extra.get("retry_after", 60)) / 60))


def staff_view(system: PrivasiSession, user: StaffUser) -> dict[str, str]:
    """What the page header shows about the signed-in person: name and role, never the e-mail."""
    org = system.get(Organisation, user.org_id)
    return {"name": user.name or "", "role": user.role, "org": org.name if org else ""}


def after_step(
    request: Request, settings: Settings, row: StaffSession, user: StaffUser, token: str | None
) -> Response:
    """Send the person to the login step they still owe (or home), with a new cookie if rotated."""
    response = redirect(STAGE_URLS[web_sessions.stage(row, user)])
    if token is not None:
        web_sessions.set_session_cookie(response, request, settings, token)
    return response


def request_context(request: Request) -> dict[str, str | None]:
    return {
        "request_id": getattr(request.state, "request_id", None),
        "client_addr": truncated_client(request),
    }


def staff_actor(request: Request, user: StaffUser) -> Principal:
    return orgs.staff_principal(user, **request_context(request))


def audit(
    session: PrivasiSession,
    request: Request,
    principal: Principal,
    action: str,
    **details: str | int | bool | None,
) -> None:
    """Record a sign-in event in the organisation's audit trail, in the caller's transaction.

    Details carry ids, reasons and flags only: never the e-mail address that was typed.
    """
    from privasi.audit import service as audit_service

    audit_service.record(
        session,
        principal,
        action,
        details=details or None,
        vault=getattr(request.app.state, "vault", None),
    )


def login_system_actor(request: Request, org_id: str) -> Principal:
    """The actor of a failed sign-in: no account is proven yet, so it is the login page itself."""
    context = request_context(request)
    return Principal(
        org_id=org_id,
        actor_type="system",
        actor_id="web-login",
        permissions=frozenset(),
        home_org_id=org_id,
        request_id=context["request_id"],
        client_addr=context["client_addr"],
    )
