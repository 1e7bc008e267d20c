"""Age and guardians: who is a minor under the policy in effect, and who may consent for them.

A birth date or declared age is sealed with the subject's key. The one fact a bulk check needs
is kept in the clear on the subject row (``minor_until``, for ``minor_age``), so checking 10,000
subjects never opens 10,000 keys; it is recomputed from the sealed value when the policy's
minimum age changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.policy.schema import Policy
from privasi.subjects.models import SQLITE_BY_ID, GuardianLink, Subject
from privasi.vault.core import vault_for
from privasi.vault.errors import VaultError

RELATIONSHIPS = ("parent", "guardian", "other")
MAX_DECLARED_AGE = 130


def age_facts(
    birth_date: date | None, declared_age: int | None, today: date
) -> dict[str, Any] | None:
    if birth_date is not None and declared_age is not None:
        raise ValidationFailed("give a birth date or a declared age, not both", field="birth_date")
    if birth_date is not None:
        if birth_date > today:
            raise ValidationFailed("the birth date is in the future", field="birth_date")
        return {"birth_date": birth_date.isoformat()}
    if declared_age is not None:
        if not 0 <= declared_age <= MAX_DECLARED_AGE:
            raise ValidationFailed(f"a declared age is 0-{MAX_DECLARED_AGE}", field="declared_age")
        return {"declared_age": declared_age, "declared_on": today.isoformat()}
    return None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _adult_on(facts: dict[str, Any], minimum_age: int) -> date:
    if "birth_date" in facts:
        return _add_years(date.fromisoformat(facts["birth_date"]), minimum_age)
    # A declared age says the birthday is within the last year; assume it was today, the latest
    # it could be, so nobody is taken for an adult before they are one.
    declared_on = date.fromisoformat(facts["declared_on"])
    return _add_years(declared_on, minimum_age - int(facts["declared_age"]))


def apply_age(subject: Subject, facts: dict[str, Any], minimum_age: int, today: date) -> None:
    adult_on = _adult_on(facts, minimum_age)
    subject.minor_until = adult_on if adult_on > today else None
    subject.minor_age = minimum_age


def minimum_age_in_effect(session: PrivasiSession) -> int | None:
    from privasi.policy import service as policies

    version = policies.current_version(session)
    if version is None:
        return None
    return int(version.document.get("minors", {}).get("minimum_age", 18))


def set_age(
    session: PrivasiSession,
    principal: Principal,
    subject: Subject,
    *,
    birth_date: date | None = None,
    declared_age: int | None = None,
) -> None:
    today = utcnow().date()
    facts = age_facts(birth_date, declared_age, today)
    if facts is None:
        raise ValidationFailed("give a birth date or a declared age", field="birth_date")
    vault = vault_for(session)
    subject.age_enc = vault.encrypt_field(subject.org_id, subject.id, facts, "subject_age")
    minimum = minimum_age_in_effect(session)
    if minimum is not None:
        apply_age(subject, facts, minimum, today)
    session.flush()
    audit.record(
        session, principal, "subject.age_set", subject_id=subject.id, details={"age": sorted(facts)}
    )


def is_minor(session: PrivasiSession, subject: Subject, policy: Policy) -> bool:
    """Under the policy's minimum age today. No recorded age counts as an adult."""
    today = utcnow().date()
    minimum = policy.minors.minimum_age
    if subject.age_enc is None:
        return False
    if subject.minor_age != minimum:
        try:
            facts = vault_for(session).decrypt_field(
                subject.org_id, subject.id, subject.age_enc, "subject_age"
            )
        except VaultError:
            return False
        loaded = json.loads(facts) if isinstance(facts, str | bytes) else facts
        apply_age(subject, dict(loaded), minimum, today)
        session.flush()
    return subject.minor_until is not None and subject.minor_until > today


def minors_among(session: PrivasiSession, subject_ids: list[str], policy: Policy) -> set[str]:
    """Which of these subjects are minors today, without opening their keys when the stored
    fact was computed for the policy's minimum age."""
    return known_and_minors(session, subject_ids, policy)[1]


def known_and_minors(
    session: PrivasiSession, subject_ids: list[str], policy: Policy
) -> tuple[set[str], set[str]]:
    """Which of these ids are subjects of the organisation, and which of those are minors."""
    today = utcnow().date()
    minimum = policy.minors.minimum_age
    known: set[str] = set()
    minors: set[str] = set()
    stale: list[str] = []
    for chunk in _chunks(subject_ids, 5000):
        rows = session.execute(
            select(Subject.id, Subject.age_enc.is_not(None), Subject.minor_until, Subject.minor_age)
            .where(Subject.id.in_(chunk))
            .with_hint(Subject, SQLITE_BY_ID, "sqlite")
        )
        for sid, aged, until, age in rows:
            known.add(sid)
            if not aged:
                continue
            if age != minimum:
                stale.append(sid)
            elif until is not None and until > today:
                minors.add(sid)
    for sid in stale:
        if is_minor(session, _subject(session, sid), policy):
            minors.add(sid)
    return known, minors


def _chunks(items: list[str], size: int = 900) -> Iterable[list[str]]:
    # Bounded statements; SQLite >= 3.32 and PostgreSQL both take far more parameters than this.
    for start in range(0, len(items), size):
        yield items[start : start + size]


def link_guardian(
    session: PrivasiSession,
    principal: Principal,
    minor: Subject,
    guardian: Subject,
    relationship: str,
) -> GuardianLink:
    if relationship not in RELATIONSHIPS:
        raise ValidationFailed(
            f"relationship must be one of {', '.join(RELATIONSHIPS)}", field="relationship"
        )
    if minor.id == guardian.id:
        raise ValidationFailed("a subject cannot be their own guardian", field="guardian_id")
    from privasi.policy import service as policies

    version = policies.current_version(session)
    if version is not None and is_minor(session, guardian, policies.to_policy(session, version)):
        raise ValidationFailed("a guardian must be an adult", field="guardian_id")
    link = session.scalar(
        select(GuardianLink).where(
            GuardianLink.minor_id == minor.id, GuardianLink.guardian_id == guardian.id
        )
    )
    if link is None:
        link = GuardianLink(minor_id=minor.id, guardian_id=guardian.id, relationship=relationship)
        session.add(link)
    else:
        link.relationship = relationship
        link.revoked_at = None
    session.flush()
    audit.record(
        session,
        principal,
        "subject.guardian_linked",
        subject_id=minor.id,
        details={"guardian_id": guardian.id, "relationship": relationship, "link_id": link.id},
    )
    return link


def unlink_guardian(
    session: PrivasiSession, principal: Principal, minor: Subject, guardian_id: str
) -> None:
    link = session.scalar(
        select(GuardianLink).where(
            GuardianLink.minor_id == minor.id,
            GuardianLink.guardian_id == guardian_id,
            GuardianLink.revoked_at.is_(None),
        )
    )
    if link is None:
        raise NotFound("guardian link not found")
    link.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        "subject.guardian_unlinked",
        subject_id=minor.id,
        details={"guardian_id": guardian_id, "link_id": link.id},
    )


def guardians_of(session: PrivasiSession, minor_id: str) -> list[GuardianLink]:
    return list(
        session.scalars(
            select(GuardianLink)
            .where(GuardianLink.minor_id == minor_id, GuardianLink.revoked_at.is_(None))
            .order_by(GuardianLink.created_at)
        )
    )


def is_guardian(session: PrivasiSession, minor_id: str, guardian_id: str) -> bool:
    return any(link.guardian_id == guardian_id for link in guardians_of(session, minor_id))


def _subject(session: PrivasiSession, subject_id: str) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("subject not found")
    return subject
