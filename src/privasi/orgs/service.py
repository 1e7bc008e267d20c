"""Rules for organisations, staff, API keys and hosting grants. No HTTP and no CLI here."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyotp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from privasi.config import Settings
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict, Forbidden, Locked, NotFound, Unauthenticated, ValidationFailed
from privasi.orgs.models import (
    ApiKey,
    HostingGrant,
    Organisation,
    OrgRole,
    StaffRole,
    StaffUser,
)
from privasi.orgs.passwords import Passwords, check_strength, generate_password
from privasi.orgs.permissions import ALL_PERMISSIONS, MFA_REQUIRED, role_permissions
from privasi.secretbox import SecretBox

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
API_KEY_PREFIX = "pvk"
TOTP_ISSUER = "privasi"


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


def system_principal(org_id: str, actor_id: str = "privasi") -> Principal:
    return Principal(org_id, "system", actor_id, ALL_PERMISSIONS, org_id)


def _audit(
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
    _audit(session, by, "org.created", org_id=org.id, role=role)
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
        _audit(session, by, "org.updated", org_id=org.id, fields=changed)
    return org


# --- staff -------------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationFailed("not a valid e-mail address", field="email")
    return email


def create_staff(
    session: PrivasiSession,
    settings: Settings,
    *,
    email: str,
    role: str,
    name: str = "",
    password: str | None = None,
    by: Principal | None = None,
) -> tuple[StaffUser, str | None]:
    """Create a staff account. Without a password, a one-time password is generated and returned."""
    email = normalise_email(email)
    try:
        role = StaffRole(role).value
    except ValueError as exc:
        raise ValidationFailed("role must be owner, dpo, agent or auditor", field="role") from exc
    one_time = None
    if password is None:
        password = one_time = generate_password()
    elif reason := check_strength(password):
        raise ValidationFailed(reason, field="password")
    if session.scalar(select(StaffUser).where(StaffUser.email == email)) is not None:
        raise Conflict("a staff account with this e-mail already exists in the organisation")
    user = StaffUser(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=Passwords(settings).hash(password),
        must_change_password=one_time is not None,
        pending_password_enc=_box(settings, "pending-password").seal(one_time)
        if one_time
        else None,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("a staff account with this e-mail already exists") from exc
    _audit(session, by, "staff.created", staff_id=user.id, role=role)
    return user, one_time


def pending_password(settings: Settings, user: StaffUser) -> str | None:
    """The one-time password not yet replaced by the user, for the operator to hand over again."""
    if not user.pending_password_enc:
        return None
    return _box(settings, "pending-password").open(user.pending_password_enc)


def list_staff(session: PrivasiSession) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def get_staff(session: PrivasiSession, user_id: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.id == user_id))
    if user is None:
        raise NotFound("staff account not found")
    return user


def find_staff_by_email(session: PrivasiSession, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise NotFound("staff account not found")
    return user


def update_staff(
    session: PrivasiSession,
    user: StaffUser,
    *,
    role: str | None = None,
    active: bool | None = None,
    name: str | None = None,
    by: Principal | None = None,
) -> StaffUser:
    changed = [f for f, v in (("role", role), ("active", active), ("name", name)) if v is not None]
    if role is not None:
        try:
            new_role = StaffRole(role).value
        except ValueError as exc:
            raise ValidationFailed(
                "role must be owner, dpo, agent or auditor", field="role"
            ) from exc
        if user.role == StaffRole.owner and new_role != StaffRole.owner:
            _keep_an_owner(session, user)
        user.role = new_role
    if active is not None:
        if not active and user.role == StaffRole.owner:
            _keep_an_owner(session, user)
        user.active = active
    if name is not None:
        user.name = name.strip()
    session.flush()
    if changed:
        _audit(session, by, "staff.updated", staff_id=user.id, fields=changed)
    return user


def _keep_an_owner(session: PrivasiSession, leaving: StaffUser) -> None:
    owners = session.scalars(
        select(StaffUser).where(StaffUser.role == StaffRole.owner.value, StaffUser.active.is_(True))
    ).all()
    if all(o.id == leaving.id for o in owners):
        raise Conflict("an organisation must keep at least one active owner")


def set_password(
    session: PrivasiSession, settings: Settings, user: StaffUser, new_password: str
) -> None:
    if reason := check_strength(new_password):
        raise ValidationFailed(reason, field="password")
    user.password_hash = Passwords(settings).hash(new_password)
    user.must_change_password = False
    user.pending_password_enc = None
    session.flush()
    _audit(session, None, "staff.password_changed", staff_id=user.id)


def reset_password(
    session: PrivasiSession, settings: Settings, user: StaffUser, by: Principal | None = None
) -> str:
    """A new one-time password; the user must change it at the next login."""
    one_time = generate_password()
    user.password_hash = Passwords(settings).hash(one_time)
    user.must_change_password = True
    user.pending_password_enc = _box(settings, "pending-password").seal(one_time)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    _audit(session, by, "staff.password_reset", staff_id=user.id)
    return one_time


def mfa_required(user: StaffUser) -> bool:
    return StaffRole(user.role) in MFA_REQUIRED


def check_password(
    session: PrivasiSession, settings: Settings, email: str, password: str
) -> StaffUser:
    """Verify a staff login in the session's organisation, with lockout after repeated failures.

    Every failure gives the same message, so the answer does not reveal which accounts exist.
    """
    now = utcnow()
    try:
        email = normalise_email(email)
    except ValidationFailed:
        email = ""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email)) if email else None
    passwords = Passwords(settings)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise Locked("too many failed attempts; try again later", retry_after=_seconds(user, now))
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not user.active or not ok:
        if user is not None:
            _record_failure(user, settings, now)
            _audit(session, None, "staff.login_failed", staff_id=user.id)
        raise Unauthenticated("wrong e-mail or password")
    user.failed_logins = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    session.flush()
    return user


def _record_failure(user: StaffUser, settings: Settings, now: datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
        user.failed_logins = 0


def _seconds(user: StaffUser, now: datetime) -> int:
    assert user.locked_until is not None
    return max(1, int((user.locked_until - now).total_seconds()))


def mark_login(session: PrivasiSession, user: StaffUser) -> None:
    user.last_login_at = utcnow()
    session.flush()
    _audit(session, None, "staff.logged_in", staff_id=user.id)


# --- TOTP --------------------------------------------------------------------------------------


def _box(settings: Settings, purpose: str) -> SecretBox:
    return SecretBox(settings.resolved_secret_key(), purpose)


def start_totp_enrolment(
    session: PrivasiSession, settings: Settings, user: StaffUser, org_slug: str
) -> tuple[str, str]:
    """A new TOTP secret (not yet active) and its otpauth:// URI for an authenticator app."""
    if user.totp_enabled:
        raise Conflict("two-factor authentication is already set up for this account")
    secret = pyotp.random_base32()
    user.totp_secret_enc = _box(settings, "totp").seal(secret)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=f"{user.email} ({org_slug})", issuer_name=TOTP_ISSUER
    )
    return secret, uri


def pending_totp_secret(settings: Settings, user: StaffUser) -> str | None:
    """The secret of an enrolment started but not confirmed, to show again on a reload."""
    if user.totp_enabled or not user.totp_secret_enc:
        return None
    return _box(settings, "totp").open(user.totp_secret_enc)


def confirm_totp_enrolment(
    session: PrivasiSession, settings: Settings, user: StaffUser, code: str
) -> None:
    if user.totp_enabled or not user.totp_secret_enc:
        raise Conflict("no two-factor set-up is in progress")
    verify_totp(session, settings, user, code, enrolling=True)
    user.totp_enabled = True
    session.flush()
    _audit(session, None, "staff.mfa_enrolled", staff_id=user.id)


def verify_totp(
    session: PrivasiSession,
    settings: Settings,
    user: StaffUser,
    code: str,
    *,
    enrolling: bool = False,
) -> None:
    """Check a TOTP code: rate limited through the login lockout, and each code accepted once."""
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise Locked("too many failed attempts; try again later", retry_after=_seconds(user, now))
    if not user.totp_secret_enc or not (user.totp_enabled or enrolling):
        raise Unauthenticated("two-factor authentication is not set up")
    totp = pyotp.TOTP(_box(settings, "totp").open(user.totp_secret_enc))
    code = code.strip().replace(" ", "")
    step = int(now.timestamp()) // totp.interval
    matched = None
    for offset in (-1, 0, 1):  # one step of clock drift either way
        candidate = step + offset
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            matched = candidate
    if matched is None or matched <= user.totp_last_step:
        _record_failure(user, settings, now)
        session.flush()
        _audit(session, None, "staff.mfa_failed", staff_id=user.id)
        raise Unauthenticated("wrong or already used code")
    user.totp_last_step = matched
    user.failed_logins = 0
    session.flush()


def disable_totp(session: PrivasiSession, user: StaffUser, by: Principal | None = None) -> None:
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = 0
    session.flush()
    _audit(session, by, "staff.mfa_reset", staff_id=user.id)


# --- API keys ----------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    # API key secrets are 256-bit random values, so a plain SHA-256 is as strong as a slow hash here
    # and keeps authentication cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str], limit: frozenset[str] | None = None) -> list[str]:
    scopes = sorted(set(scopes))
    if not scopes:
        raise ValidationFailed("an API key needs at least one scope", field="scopes")
    unknown = [s for s in scopes if s not in ALL_PERMISSIONS]
    if unknown:
        raise ValidationFailed(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    if limit is not None and (beyond := [s for s in scopes if s not in limit]):
        raise Forbidden(f"you cannot grant scopes you do not hold: {', '.join(beyond)}")
    return scopes


def create_api_key(
    session: PrivasiSession,
    *,
    name: str,
    scopes: Iterable[str],
    created_by: str | None = None,
    limit: frozenset[str] | None = None,
    by: Principal | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the returned token is shown once and never stored."""
    if not name.strip():
        raise ValidationFailed("name must not be empty", field="name")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id,
        secret_hash=_hash_secret(secret),
        name=name.strip(),
        scopes=validate_scopes(scopes, limit),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    _audit(session, by, "api_key.created", key_id=key_id, scopes=key.scopes)
    return key, f"{API_KEY_PREFIX}_{key_id}_{secret}"


def list_api_keys(session: PrivasiSession) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def get_api_key(session: PrivasiSession, id_or_key_id: str) -> ApiKey:
    key = session.scalar(
        select(ApiKey).where((ApiKey.id == id_or_key_id) | (ApiKey.key_id == id_or_key_id))
    )
    if key is None:
        raise NotFound("API key not found")
    return key


def revoke_api_key(session: PrivasiSession, key: ApiKey, by: Principal | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        _audit(session, by, "api_key.revoked", key_id=key.key_id)
    return key


def authenticate_api_key(system: PrivasiSession, token: str) -> ApiKey:
    """Find the active key for a bearer token (system session: the organisation is not known yet)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise Unauthenticated("invalid API key")
    key = system.scalar(select(ApiKey).where(ApiKey.key_id == parts[1]))
    expected = key.secret_hash if key is not None else _hash_secret("x")
    if not hmac.compare_digest(expected, _hash_secret(parts[2])) or key is None:
        raise Unauthenticated("invalid API key")
    if key.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    now = utcnow()
    # Touch at most once a minute so reads do not turn every request into a write.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return key


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
    """Made in the hosted (controller) organisation's scope: only the controller can open access."""
    hosted_id = session.require_org()
    if processor.id == hosted_id:
        raise ValidationFailed("an organisation cannot host itself", field="processor")
    if processor.role != OrgRole.processor.value:
        raise ValidationFailed("the hosting organisation must be a processor", field="processor")
    if not instructions.strip():
        raise ValidationFailed(
            "documented instructions are required (UU PDP Pasal 51)", field="instructions"
        )
    actions = validate_scopes(actions)
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
    _audit(
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
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        session.flush()
        _audit(session, by, "hosting.revoked", grant_id=grant.id)
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
        permissions=principal.permissions & frozenset(grant.actions),
        home_org_id=principal.home_org_id,
        grant_id=grant.id,
        request_id=principal.request_id,
        client_addr=principal.client_addr,
    )


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
