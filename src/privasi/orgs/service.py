"""Rules for organisations and hosting grants, and the one module other domains import from ``orgs``.

Staff accounts live in ``orgs/staff.py``, API keys in ``orgs/keys.py`` and the principal in
``orgs/principal.py``; their public functions are re-exported here so callers keep one import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict, NotFound, ValidationFailed
from privasi.orgs.keys import (
    API_KEY_PREFIX,
    authenticate_api_key,
    create_api_key,
    get_api_key,
    list_api_keys,
    revoke_api_key,
    validate_scopes,
)
from privasi.orgs.models import (
    HostingGrant,
    Organisation,
    OrgRole,
)
from privasi.orgs.permissions import NEVER_GRANTED
from privasi.orgs.principal import (
    Principal,
    key_principal,
    record_change,
    staff_principal,
    system_principal,
)
from privasi.orgs.staff import (
    EMAIL_RE,
    TOTP_ISSUER,
    check_password,
    confirm_totp_enrolment,
    create_staff,
    disable_totp,
    find_staff_by_email,
    get_staff,
    list_staff,
    mark_login,
    mfa_required,
    normalise_email,
    pending_password,
    pending_totp_secret,
    reset_password,
    set_password,
    start_totp_enrolment,
    update_staff,
    verify_totp,
)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

__all__ = [
    "API_KEY_PREFIX",
    "EMAIL_RE",
    "SLUG_RE",
    "TOTP_ISSUER",
    "Principal",
    "act_in",
    "active_grant",
    "authenticate_api_key",
    "check_password",
    "confirm_totp_enrolment",
    "create_api_key",
    "create_hosting_grant",
    "create_org",
    "create_staff",
    "disable_totp",
    "find_org_by_slug",
    "find_staff_by_email",
    "get_api_key",
    "get_hosting_grant",
    "get_org",
    "get_org_by_slug",
    "get_staff",
    "hosted_orgs",
    "key_principal",
    "list_api_keys",
    "list_hosting_grants",
    "list_orgs",
    "list_staff",
    "mark_login",
    "mfa_required",
    "normalise_email",
    "pending_password",
    "pending_totp_secret",
    "reset_password",
    "revoke_api_key",
    "revoke_hosting_grant",
    "set_password",
    "staff_principal",
    "start_totp_enrolment",
    "system_principal",
    "update_org",
    "update_staff",
    "validate_scopes",
    "validate_time_zone",
    "verify_totp",
]


# --- organisations -----------------------------------------------------------------------------


def validate_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown time zone '{name}'", field="time_zone") from exc
    return name


def create_org(
    session: PrivasiSession,
    slug: str,
    name: str,
    *,
    time_zone: str = "Asia/Jakarta",
    role: str = OrgRole.controller.value,
    by: Principal | None = None,
) -> Organisation:
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            "slug must be 1-63 lower-case letters, digits or dashes, not starting or ending with a dash",
            field="slug",
        )
    if role not in {r.value for r in OrgRole}:
        raise ValidationFailed("role must be controller or processor", field="role")
    if not name.strip():
        raise ValidationFailed("name must not be empty", field="name")
    validate_time_zone(time_zone)
    if session.scalar(select(Organisation).where(Organisation.slug == slug)) is not None:
        raise Conflict(f"an organisation with slug '{slug}' already exists")
    org = Organisation(slug=slug, name=name.strip(), time_zone=time_zone, role=role)
    session.add(org)
    session.flush()
    record_change(session, by, "org.created", org_id=org.id, role=role)
    return org


def get_org(session: PrivasiSession, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def get_org_by_slug(session: PrivasiSession, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound("organisation not found")
    return org


def find_org_by_slug(session: PrivasiSession, slug: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def list_orgs(session: PrivasiSession) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.slug)))


def update_org(
    session: PrivasiSession,
    org: Organisation,
    *,
    name: str | None,
    time_zone: str | None,
    by: Principal | None = None,
) -> Organisation:
    changed = [f for f, v in (("name", name), ("time_zone", time_zone)) if v is not None]
    if name is not None:
        if not name.strip():
            raise ValidationFailed("name must not be empty", field="name")
        org.name = name.strip()
    if time_zone is not None:
        org.time_zone = validate_time_zone(time_zone)
    session.flush()
    if changed:
        record_change(session, by, "org.updated", org_id=org.id, fields=changed)
    return org


# --- hosting grants ----------------------------------------------------------------------------


def create_hosting_grant(
    session: PrivasiSession,
    *,
    processor: Organisation,
    actions: Iterable[str],
    instructions: str,
    approved_subprocessors: list[dict[str, Any]],
    created_by: str | None = None,
    by: Principal | None = None,
) -> HostingGrant:
    """Made in the hosted (controller) organisation's scope: only the controller can open access,
    and no wider than what ``by`` holds itself."""
    if by is not None:
        by.require_not_hosted("hosting grants")
    hosted_id = session.require_org()
    if processor.id == hosted_id:
        raise ValidationFailed("an organisation cannot host itself", field="processor")
    if processor.role != OrgRole.processor.value:
        raise ValidationFailed("the hosting organisation must be a processor", field="processor")
    if not instructions.strip():
        raise ValidationFailed(
            "documented instructions are required (UU PDP Pasal 51)", field="instructions"
        )
    actions = validate_scopes(actions, limit=by.permissions if by is not None else None)
    if never := sorted(set(actions) & NEVER_GRANTED):
        raise ValidationFailed(
            f"a hosting grant cannot include {', '.join(never)}: a processor never manages the "
            "organisation's staff, API keys, hosting grants or secrets",
            field="actions",
        )
    for i, sub in enumerate(approved_subprocessors):
        if not isinstance(sub, dict) or not str(sub.get("name", "")).strip():
            raise ValidationFailed(
                "each approved sub-processor needs a name", field=f"approved_subprocessors.{i}"
            )
    existing = session.scalar(
        select(HostingGrant).where(
            HostingGrant.processor_org_id == processor.id, HostingGrant.revoked_at.is_(None)
        )
    )
    if existing is not None:
        raise Conflict("this processor already has an active grant; revoke it first")
    grant = HostingGrant(
        processor_org_id=processor.id,
        actions=actions,
        instructions=instructions.strip(),
        approved_subprocessors=approved_subprocessors,
        created_by=created_by,
    )
    session.add(grant)
    session.flush()
    record_change(
        session,
        by,
        "hosting.granted",
        grant_id=grant.id,
        processor_org_id=processor.id,
        actions=actions,
    )
    return grant


def list_hosting_grants(session: PrivasiSession) -> list[HostingGrant]:
    return list(session.scalars(select(HostingGrant).order_by(HostingGrant.created_at)))


def get_hosting_grant(session: PrivasiSession, grant_id: str) -> HostingGrant:
    grant = session.scalar(select(HostingGrant).where(HostingGrant.id == grant_id))
    if grant is None:
        raise NotFound("hosting grant not found")
    return grant


def revoke_hosting_grant(
    session: PrivasiSession, grant: HostingGrant, by: Principal | None = None
) -> HostingGrant:
    if by is not None:
        by.require_not_hosted("hosting grants")
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        session.flush()
        record_change(session, by, "hosting.revoked", grant_id=grant.id)
    return grant


def active_grant(
    system: PrivasiSession, processor_org_id: str, hosted_org_id: str
) -> HostingGrant | None:
    return system.scalar(
        select(HostingGrant).where(
            HostingGrant.org_id == hosted_org_id,
            HostingGrant.processor_org_id == processor_org_id,
            HostingGrant.revoked_at.is_(None),
        )
    )


def hosted_orgs(db: Database, processor_org_id: str) -> list[Organisation]:
    """Organisations that granted this processor access: a deliberate cross-tenant read, so it runs
    in a system session and returns only organisations with an active grant to this processor."""
    with db.session(system=True) as system:
        return _hosted_orgs(system, processor_org_id)


def _hosted_orgs(system: PrivasiSession, processor_org_id: str) -> list[Organisation]:
    rows = system.scalars(
        select(Organisation)
        .join(HostingGrant, HostingGrant.org_id == Organisation.id)
        .where(HostingGrant.processor_org_id == processor_org_id, HostingGrant.revoked_at.is_(None))
        .order_by(Organisation.slug)
    )
    return list(rows)


def act_in(system: PrivasiSession, principal: Principal, target_slug: str | None) -> Principal:
    """The principal narrowed to a hosted organisation, through an active hosting grant.

    An organisation without a grant answers 404, as if it did not exist, so a processor cannot probe
    which organisations are hosted here.
    """
    if not target_slug:
        return principal
    target = find_org_by_slug(system, target_slug)
    if target is None:
        raise NotFound("organisation not found")
    if target.id == principal.home_org_id:
        return principal
    grant = active_grant(system, principal.home_org_id, target.id)
    if grant is None:
        raise NotFound("organisation not found")
    return Principal(
        org_id=target.id,
        actor_type=principal.actor_type,
        actor_id=principal.actor_id,
        # Grants made before NEVER_GRANTED was enforced may still list those actions.
        permissions=(principal.permissions & frozenset(grant.actions)) - NEVER_GRANTED,
        home_org_id=principal.home_org_id,
        grant_id=grant.id,
        request_id=principal.request_id,
        client_addr=principal.client_addr,
    )
