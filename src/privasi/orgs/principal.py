"""Who is acting: the principal every service receives, and the audit helper the orgs services share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from privasi.db import PrivasiSession
from privasi.errors import Forbidden
from privasi.orgs.models import (
    ApiKey,
    StaffUser,
)
from privasi.orgs.permissions import ALL_PERMISSIONS, role_permissions


@dataclass(frozen=True)
class Principal:
    """Who is acting, in which organisation, with which permissions."""

    org_id: str
    actor_type: str  # staff | api_key | system | subject
    actor_id: str
    permissions: frozenset[str]
    home_org_id: str
    grant_id: str | None = None
    request_id: str | None = None
    client_addr: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"{self.actor_type}:{self.actor_id}"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this action needs the '{permission}' permission")

    def require_not_hosted(self, what: str) -> None:
        """Refuse a processor acting through a hosting grant: the grant is for the controller's
        processing, and ``what`` (accounts, keys, grants) would outlive the grant's revocation."""
        if self.grant_id is not None:
            raise Forbidden(f"a processor acting through a hosting grant cannot manage {what}")


def system_principal(org_id: str, actor_id: str = "privasi") -> Principal:
    return Principal(org_id, "system", actor_id, ALL_PERMISSIONS, org_id)


def record_change(
    session: PrivasiSession,
    by: Principal | None,
    action: str,
    org_id: str | None = None,
    **details: Any,
) -> None:
    """Record a state change in the organisation's audit chain, in the same transaction.

    Details carry ids and field names only: the chain is never deleted, so it holds no personal data.
    """
    from privasi.audit import service as audit  # audit imports this module for Principal

    org_id = org_id or session.org_id
    if org_id is None:
        return
    principal = by if by is not None and by.org_id == org_id else system_principal(org_id)
    audit.record(session, principal, action, details=details or None)


def staff_principal(user: StaffUser, **context: Any) -> Principal:
    return Principal(
        org_id=user.org_id,
        actor_type="staff",
        actor_id=user.id,
        permissions=role_permissions(user.role),
        home_org_id=user.org_id,
        **context,
    )


def key_principal(key: ApiKey, **context: Any) -> Principal:
    return Principal(
        org_id=key.org_id,
        actor_type="api_key",
        actor_id=key.key_id,
        permissions=frozenset(key.scopes) & ALL_PERMISSIONS,
        home_org_id=key.org_id,
        **context,
    )
