"""Stored policy versions: drafts, publishing, the current version, upgrades of stored documents.

The pure rules of the policy file (schema, validation, rendering, diff) live beside this module;
this one adds what needs the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from privasi.jobs import service as jobs
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation
from privasi.orgs.service import Principal
from privasi.policy.diff import PolicyDiff, diff_policies
from privasi.policy.loader import parse_policy, policy_from_dict
from privasi.policy.models import PolicyVersion
from privasi.policy.schema import CURRENT_SCHEMA_VERSION, Policy


@dataclass
class Published:
    version: PolicyVersion
    diff: PolicyDiff | None  # against the version that was current before, if any


def org_today(org: Organisation, now: datetime | None = None) -> date:
    """Today's date where the organisation is: effective dates are calendar days there."""
    return (now or utcnow()).astimezone(ZoneInfo(org.time_zone)).date()


def create_draft(
    session: PrivasiSession, principal: Principal, source: str, source_name: str = "upload"
) -> PolicyVersion:
    """Validate an uploaded policy file and store it as a draft version."""
    policy = parse_policy(source, source_name)
    org = orgs.get_org(session, session.require_org())
    if policy.organisation.slug != org.slug:
        raise ValidationFailed(
            f"the policy is for organisation '{policy.organisation.slug}', not '{org.slug}'",
            field="organisation.slug",
        )
    number = (session.scalar(select(func.max(PolicyVersion.number))) or 0) + 1
    version = PolicyVersion(
        number=number,
        status="draft",
        schema_version=policy.schema_version,
        source=source,
        document=policy.model_dump(mode="json"),
        sha256=hashlib.sha256(source.encode()).hexdigest(),
        created_by=principal.actor,
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("another version was stored at the same time; try again") from exc
    audit.record(session, principal, "policy.drafted", details={"version": number})
    return version


def to_policy(session: PrivasiSession, version: PolicyVersion) -> Policy:
    """The validated policy of a stored version, upgrading its stored document when the schema grew."""
    policy = policy_from_dict(version.document, f"version {version.number}")
    if version.schema_version != CURRENT_SCHEMA_VERSION:
        version.document = policy.model_dump(mode="json")
        version.schema_version = CURRENT_SCHEMA_VERSION
        session.flush()
    return policy


def upgrade_stored(session: PrivasiSession) -> int:
    """Bring every stored version of the organisation up to the current schema version."""
    count = 0
    for version in session.scalars(
        select(PolicyVersion).where(PolicyVersion.schema_version != CURRENT_SCHEMA_VERSION)
    ):
        to_policy(session, version)
        count += 1
    return count


def list_versions(session: PrivasiSession) -> list[PolicyVersion]:
    return list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.number.desc())))


def get_version(session: PrivasiSession, version_id: str) -> PolicyVersion:
    version = session.scalar(
        select(PolicyVersion).where(
            (PolicyVersion.id == version_id)
            | (PolicyVersion.number == (int(version_id) if version_id.isdigit() else -1))
        )
    )
    if version is None:
        raise NotFound("policy version not found")
    return version


def current_version(session: PrivasiSession, now: datetime | None = None) -> PolicyVersion | None:
    """The latest published version whose effective date has come, in the organisation's time zone."""
    org = orgs.get_org(session, session.require_org())
    today = org_today(org, now)
    return session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.status == "published", PolicyVersion.effective_date <= today)
        .order_by(PolicyVersion.effective_date.desc(), PolicyVersion.number.desc())
        .limit(1)
    )


def require_current(session: PrivasiSession, now: datetime | None = None) -> PolicyVersion:
    version = current_version(session, now)
    if version is None:
        raise NotFound("no policy version is in effect yet; publish one first")
    return version


def current_policy(session: PrivasiSession, now: datetime | None = None) -> Policy:
    """What every other domain reads: the policy in effect now."""
    return to_policy(session, require_current(session, now))


def history(session: PrivasiSession) -> list[PolicyVersion]:
    """Published versions, newest effective date first (including ones not yet in effect)."""
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.status == "published")
            .order_by(PolicyVersion.effective_date.desc(), PolicyVersion.number.desc())
        )
    )


def publish(
    session: PrivasiSession,
    principal: Principal,
    version: PolicyVersion,
    effective_date: date | None = None,
    now: datetime | None = None,
) -> Published:
    """Publish a draft from ``effective_date`` (default: the file's own effective date, or today
    where the organisation is if that has passed).

    The diff against the version in effect is returned so the caller can tell people about a
    material change before it takes effect (UU PDP Pasal 21(2)).
    """
    if version.status != "draft":
        raise InvalidTransition(f"version {version.number} is already {version.status}")
    org = orgs.get_org(session, session.require_org())
    today = org_today(org, now)
    policy = to_policy(session, version)
    effective = effective_date or max(policy.effective_date, today)
    if effective < today:
        raise ValidationFailed(
            f"the effective date {effective.isoformat()} is in the past ({today.isoformat()} in "
            f"{org.time_zone})",
            field="effective_date",
        )
    previous = current_version(session, now)
    diff = diff_policies(to_policy(session, previous), policy) if previous is not None else None
    document = dict(version.document)
    document["effective_date"] = effective.isoformat()
    version.document = document
    version.status = "published"
    version.effective_date = effective
    version.published_at = now or utcnow()
    version.published_by = principal.actor
    # The organisation's time zone and role follow its policy: nothing is declared twice.
    orgs.update_org(session, org, name=None, time_zone=policy.organisation.time_zone, by=principal)
    org.role = policy.organisation.role.value
    session.flush()
    audit.record(
        session,
        principal,
        "policy.published",
        details={
            "version": version.number,
            "effective_date": effective.isoformat(),
            "material_changes": len(diff.material) if diff else 0,
        },
    )
    if diff is not None and diff.has_material:
        # People whose consent the change touches are told, and their old consent stops covering
        # the new terms from the effective date (privasi.notify.material).
        jobs.enqueue(
            session,
            "notify.material_change",
            {"version_id": version.id},
            dedupe_key=f"material-change:{version.id}",
        )
    return Published(version, diff)


def diff_versions(session: PrivasiSession, old: PolicyVersion, new: PolicyVersion) -> PolicyDiff:
    return diff_policies(to_policy(session, old), to_policy(session, new))


@dataclass
class PublicNotice:
    org: Organisation
    version: PolicyVersion  # the one shown
    policy: Policy
    history: list[PolicyVersion]  # published versions, upcoming ones included
    current_id: str


def public_notice(db: Database, slug: str, number: int | None = None) -> PublicNotice:
    """The notice anyone may read: the version in effect (or a named published one) and history."""
    with db.session(system=True) as system:
        org = orgs.get_org_by_slug(system, slug)
    with db.session(org.id) as session:
        current = require_current(session)
        version = current
        if number is not None:
            version = get_version(session, str(number))
            if version.status != "published":
                raise NotFound("policy version not found")
        policy = to_policy(session, version)
        return PublicNotice(org, version, policy, history(session), current.id)


def load_and_publish(
    db: Database, org_id: str, principal: Principal, source: str, source_name: str
) -> PolicyVersion | None:
    """Store and publish a policy file unless the same text is already stored (for `init`)."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    with db.session(org_id) as session:
        if session.scalar(select(PolicyVersion).where(PolicyVersion.sha256 == digest)):
            return None
        version = create_draft(session, principal, source, source_name)
        publish(session, principal, version)
        return version
