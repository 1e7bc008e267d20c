"""The one guard every staff page goes through: signed in, past every login step, allowed, CSRF.

A page handler opens ``staff_page(request, "requests.read")`` and works inside it; a form handler
passes the submitted token with ``csrf=``. When the visitor may not see the page, the guard raises
``PageExit`` with the answer (the login page, the step still owed, or a 403 page) and ``StaffRoute``
turns that into the response, so handlers never repeat the checks::

    router = APIRouter(include_in_schema=False, route_class=StaffRoute)

    @router.get("/admin/things")
    def things(request: Request) -> Response:
        with staff_page(request, "things.read") as page:
            return page.render("admin/things.html", {"things": service.list(page.session)})
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from privasi.db import PrivasiSession
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation
from privasi.orgs.principal import Principal
from privasi.web import sessions as web_sessions
from privasi.web.common import LOGIN_URL, STAGE_URLS, current_staff, db_of, forbidden, staff_view
from privasi.web.render import PrivateHtmlRoute, apply_security_headers, redirect, render
from privasi.web.sessions import Stage


class PageExit(Exception):
    """Raised by the guard with the response to send instead of the page."""

    def __init__(self, response: Response) -> None:
        super().__init__("page exit")
        self.response = response


class StaffRoute(PrivateHtmlRoute):
    """A staff page route: answers a ``PageExit`` with its response (security headers kept)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except PageExit as exit_:
                # The answer given instead of the page is still a staff page's answer.
                response = apply_security_headers(exit_.response)
                response.headers.setdefault("Cache-Control", "no-store")
                return response

        return guarded


@dataclass
class StaffPage:
    """What a staff page works with: a session scoped to the acting organisation and who acts."""

    request: Request
    session: PrivasiSession
    principal: Principal
    user_id: str
    role: str
    staff_session_id: str
    org: Organisation
    context: dict[str, Any] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        return permission in self.principal.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PageExit(no_permission(self.request))

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
    ) -> Response:
        values = dict(self.context)
        values.update(context or {})
        return render(self.request, template, values, status_code=status_code)


def no_permission(request: Request) -> Response:
    context = {"title_key": "errors.forbidden.title", "body_key": "errors.forbidden.body"}
    return render(request, "error.html", context, status_code=403)


@contextmanager
def staff_page(
    request: Request, permission: str | None = None, *, csrf: str | None = None
) -> Iterator[StaffPage]:
    """Open a unit of work for a signed-in staff member in the organisation they act in.

    ``csrf`` is the token a form sent; pass it on every state-changing request. The unit commits
    when the block ends without an exception, like ``Database.session``.
    """
    db = db_of(request)
    with db.session(system=True) as system:
        found = current_staff(system, request)
        if found is None:
            raise PageExit(_to_login(request))
        row, user = found
        stage = web_sessions.stage(row, user)
        if stage is not Stage.ready:
            raise PageExit(redirect(STAGE_URLS[stage]))
        if csrf is not None and not web_sessions.csrf_matches(row.csrf_token, csrf):
            raise PageExit(forbidden(request))
        principal = web_sessions.acting_principal(system, row, orgs.staff_principal(user))
        if permission is not None and permission not in principal.permissions:
            raise PageExit(no_permission(request))
        base: dict[str, Any] = {
            "csrf_token": row.csrf_token,
            "staff": staff_view(system, user),
            "permissions": principal.permissions,
        }
        # Ids, not rows: a processor's staff act in another organisation, whose scoped session
        # cannot see their own account or sign-in session.
        row_id, user_id, role = row.id, user.id, str(user.role)
    with db.session(principal.org_id) as session:
        acting = session.get(Organisation, principal.org_id)
        if acting is None:
            raise PageExit(_to_login(request))
        base["acting_org"] = acting
        yield StaffPage(request, session, principal, user_id, role, row_id, acting, base)


def _to_login(request: Request) -> Response:
    return redirect(LOGIN_URL)
