"""``/admin/api-keys``: the organisation's API keys; create one (its token shown once) or revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import Forbidden, NotFound, ValidationFailed
from privasi.orgs import service as orgs
from privasi.orgs.permissions import MATRIX
from privasi.web.common import FormText
from privasi.web.governance.common import times
from privasi.web.i18n import catalogue, request_language
from privasi.web.render import flash, redirect
from privasi.web.staff import StaffPage, StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

BASE = "/admin/api-keys"
MAX_NAME = 200


def scope_choices(page: StaffPage, lang: str) -> list[dict[str, str]]:
    """The scopes this person may hand out (never more than they hold), described in ``lang``."""
    strings = catalogue()[lang]
    return [
        {
            "name": name,
            # A permission added later without its catalogue line still shows its written meaning.
            "label": strings.get(f"governance.scopes.{name.replace('.', '_')}", MATRIX[name][0]),
        }
        for name in sorted(page.principal.permissions)
        if name in MATRIX
    ]


def _keys(page: StaffPage) -> list[dict[str, Any]]:
    return [
        {
            "key_id": k.key_id,
            "name": k.name,
            "scopes": k.scopes,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at,
        }
        for k in reversed(orgs.list_api_keys(page.session))
    ]


def _render(
    page: StaffPage,
    lang: str,
    *,
    created: dict[str, str] | None = None,
    error: str | None = None,
    name: str = "",
    chosen: frozenset[str] = frozenset(),
    status: int = 200,
) -> Response:
    return page.render(
        "admin/api_keys/list.html",
        {
            **times(page.org),
            "keys": _keys(page),
            "can_manage": page.can("api_keys.manage"),
            "scopes": scope_choices(page, lang),
            "created": created,
            "error": error,
            "name": name,
            "chosen": chosen,
        },
        status_code=status,
    )


@router.get(BASE)
def api_keys(request: Request) -> Response:
    lang, _ = request_language(request)
    with staff_page(request, "api_keys.read") as page:
        return _render(page, lang)


@router.post(BASE)
async def create(request: Request) -> Response:
    form = await request.form()
    return _create(request, str(form.get("csrf_token", "")), form.getlist("scope"), form)


def _create(request: Request, csrf: str, scopes: list[Any], form: Any) -> Response:
    lang, _ = request_language(request)
    name = str(form.get("name", "")).strip()[:MAX_NAME]
    chosen = frozenset(str(s) for s in scopes)
    with staff_page(request, "api_keys.manage", csrf=csrf) as page:
        if not name:
            return _render(page, lang, error="governance.keys.need_name", chosen=chosen, status=400)
        try:
            key, token = orgs.create_api_key(
                page.session,
                name=name,
                scopes=chosen,
                created_by=page.principal.actor,
                limit=page.principal.permissions,
                by=page.principal,
            )
        except Forbidden:
            return _render(page, lang, error="governance.keys.beyond", name=name, status=403)
        except ValidationFailed:
            return _render(
                page, lang, error="governance.keys.need_scope", name=name, chosen=chosen, status=400
            )
        # Rendered, not redirected: the token must not travel in a URL or a cookie, and this is
        # the only time it is shown (the page is never cached: Cache-Control no-store).
        return _render(page, lang, created={"name": key.name, "key_id": key.key_id, "token": token})


@router.post(BASE + "/{key_id}/revoke")
def revoke(key_id: str, request: Request, csrf_token: FormText = "") -> Response:
    with staff_page(request, "api_keys.manage", csrf=csrf_token) as page:
        response = redirect(BASE)
        try:
            key = orgs.get_api_key(page.session, key_id)
        except NotFound:
            flash(response, "governance.keys.not_found", "error")
            return response
        orgs.revoke_api_key(page.session, key, by=page.principal)
        flash(response, "governance.keys.revoked", "success", name=key.name)
        return response
