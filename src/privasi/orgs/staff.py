"""Staff accounts: creation, roles, passwords with lockout, one-time passwords and TOTP."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from privasi.config import Settings
from privasi.db import PrivasiSession, utcnow
from privasi.errors import (
    Conflict,
    Forbidden,
    Locked,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from privasi.orgs.models import (
    StaffRole,
    StaffSession,
    StaffUser,
)
from privasi.orgs.passwords import Passwords, check_strength, generate_password
from privasi.orgs.permissions import MFA_REQUIRED, role_permissions
from privasi.orgs.principal import Principal, record_change
from privasi.secretbox import SecretBox

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOTP_ISSUER = "privasi"


# --- staff -------------------------------------------------------------------------------------


def require_reach(by: Principal | None, role: str) -> None:
    """Refuse to hand ``by`` an account of ``role`` (by creating it, promoting to it or resetting
    its credentials) when the role holds a permission ``by`` lacks: it could sign in as that account.
    The organisation's signed-in owners are the exception: they appoint every role.

    ``None`` is the operator's own code (CLI, bootstrap), which holds everything anyway.
    """
    if by is None:
        return
    by.require_not_hosted("staff accounts")
    if _appoints_every_role(by):
        return
    if beyond := sorted(role_permissions(role) - by.permissions):
        raise Forbidden(
            f"a '{StaffRole(role).value}' account holds permissions you do not: {', '.join(beyond)}"
        )


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationFailed("not a valid e-mail address", field="email")
    return email


def _appoints_every_role(by: Principal) -> bool:
    # The organisation's own owner, signed in, appoints the DPO and the auditors (UU PDP Pasal 53
    # makes appointing the DPO the controller's act) and recovers their accounts; every such change
    # is in the audit chain. A key or a processor through a grant gets no such reach.
    return (
        by.actor_type == "staff"
        and by.grant_id is None
        and role_permissions(StaffRole.owner) <= by.permissions
    )


def roles_within_reach(by: Principal) -> list[str]:
    """The roles ``by`` may create, promote to or reset, in the matrix's order."""
    if by.grant_id is not None:
        return []
    if _appoints_every_role(by):
        return [r.value for r in StaffRole]
    return [r.value for r in StaffRole if role_permissions(r) <= by.permissions]


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
    require_reach(by, role)
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
    record_change(session, by, "staff.created", staff_id=user.id, role=role)
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
    if by is not None:
        by.require_not_hosted("staff accounts")
    if role is not None:
        try:
            new_role = StaffRole(role).value
        except ValueError as exc:
            raise ValidationFailed(
                "role must be owner, dpo, agent or auditor", field="role"
            ) from exc
        if new_role != user.role:
            require_reach(by, new_role)
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
        record_change(session, by, "staff.updated", staff_id=user.id, fields=changed)
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
    record_change(session, None, "staff.password_changed", staff_id=user.id)


def reset_password(
    session: PrivasiSession, settings: Settings, user: StaffUser, by: Principal | None = None
) -> str:
    """A new one-time password; the user must change it at the next login."""
    require_reach(by, user.role)
    one_time = generate_password()
    user.password_hash = Passwords(settings).hash(one_time)
    user.must_change_password = True
    user.pending_password_enc = _box(settings, "pending-password").seal(one_time)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record_change(session, by, "staff.password_reset", staff_id=user.id)
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
            record_change(session, None, "staff.login_failed", staff_id=user.id)
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
    record_change(session, None, "staff.logged_in", staff_id=user.id)


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
    record_change(session, None, "staff.mfa_enrolled", staff_id=user.id)


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
        # As bytes: compare_digest refuses non-ASCII text (full-width digits), which is just a
        # wrong code.
        if hmac.compare_digest(totp.at(candidate * totp.interval).encode(), code.encode()):
            matched = candidate
    if matched is None or matched <= user.totp_last_step:
        _record_failure(user, settings, now)
        session.flush()
        record_change(session, None, "staff.mfa_failed", staff_id=user.id)
        raise Unauthenticated("wrong or already used code")
    user.totp_last_step = matched
    user.failed_logins = 0
    session.flush()


def disable_totp(session: PrivasiSession, user: StaffUser, by: Principal | None = None) -> None:
    require_reach(by, user.role)
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = 0
    session.flush()
    record_change(session, by, "staff.mfa_reset", staff_id=user.id)


# --- sign-in sessions --------------------------------------------------------------------------


def list_sessions(session: PrivasiSession, user: StaffUser) -> list[StaffSession]:
    """The live sign-in sessions of an account, newest first (expired ones are of no interest)."""
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.user_id == user.id,
                StaffSession.org_id == user.org_id,
                StaffSession.expires_at > utcnow(),
            )
            .order_by(StaffSession.created_at.desc(), StaffSession.id)
        )
    )


def end_sessions(
    session: PrivasiSession,
    user: StaffUser,
    *,
    keep: str | None = None,
    by: Principal | None = None,
) -> int:
    """Sign an account out everywhere (except the session ``keep``); returns how many ended."""
    query = delete(StaffSession).where(
        StaffSession.user_id == user.id, StaffSession.org_id == user.org_id
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = session.execute(query, execution_options={"synchronize_session": False})
    ended = int(getattr(result, "rowcount", 0) or 0)
    session.flush()
    record_change(session, by, "staff.sessions_ended", staff_id=user.id, count=ended)
    return ended
