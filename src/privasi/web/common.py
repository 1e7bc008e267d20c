"""Helpers every page module shares: app state, the signed-in staff member, standard responses."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from privasi.config import Settings
from privasi.db import Database, PrivasiSession
from privasi.errors import Locked
from privasi.orgs.models import Organisation, StaffSession, StaffUser
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
