"""FastAPI dependencies: who is calling, in which organisation, with a scoped database session.

Routers declare ``ctx: Ctx = Depends(requires("staff.read"))``; the session is committed after the
endpoint returns and before the response is sent, so a failed commit is a failed request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from privasi.config import Settings
from privasi.db import Database, PrivasiSession
from privasi.errors import Unauthenticated
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal

ORG_HEADER = "Privasi-Organization"
SESSION_COOKIE = "privasi_session"


@dataclass
class Ctx:
    principal: Principal
    session: PrivasiSession
    settings: Settings
    request: Request

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    def state(self, name: str) -> Any:
        return getattr(self.request.app.state, name)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def truncated_client(request: Request) -> str | None:
    """The client address truncated (IPv4 to /24, IPv6 to /48): enough for abuse, not a person."""
    host = request.client.host if request.client else None
    if not host:
        return None
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def resolve_principal(request: Request, db: Database, settings: Settings) -> Principal:
    context = {
        "request_id": getattr(request.state, "request_id", None),
        "client_addr": truncated_client(request),
    }
    auth = request.headers.get("authorization", "")
    with db.session(system=True) as system:
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("use 'Authorization: Bearer <API key>'")
            key = orgs.authenticate_api_key(system, token.strip())
            principal = orgs.key_principal(key, **context)
        else:
            from privasi.web import sessions as web_sessions

            from_cookie = web_sessions.principal_from_cookie(system, request, **context)
            if from_cookie is None:
                raise Unauthenticated("authentication required: an API key or a staff session")
            principal = from_cookie
        return orgs.act_in(system, principal, request.headers.get(ORG_HEADER))


def requires(permission: str | None = None) -> Callable[..., Iterator[Ctx]]:
    """A dependency giving a ``Ctx`` for a caller that holds ``permission`` (None: any caller)."""

    def dependency(request: Request) -> Iterator[Ctx]:
        settings = get_settings(request)
        db = get_db(request)
        principal = resolve_principal(request, db, settings)
        if permission is not None:
            principal.require(permission)
        request.state.principal = principal
        with db.session(principal.org_id) as session:
            yield Ctx(principal, session, settings, request)

    dependency.__name__ = f"requires_{(permission or 'any').replace('.', '_')}"
    return dependency


def ctx_for(permission: str | None = None) -> Any:
    return Depends(requires(permission), scope="function")
