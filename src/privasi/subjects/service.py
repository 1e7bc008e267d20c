"""Data subjects: find-or-create by identifier, encrypted identifiers, age, guardians, restriction.

Identifiers are sealed with the subject's own key and found through blind indexes, so the main
database never holds an e-mail address or phone number in the clear. No HTTP and no CLI here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from privasi.audit import service as audit
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import Conflict, NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.subjects import identifiers as ident
from privasi.subjects.identifiers import CONTACT_KINDS, IDENTIFIER_KINDS
from privasi.subjects.minors import (
    RELATIONSHIPS,
    age_facts,
    apply_age,
    guardians_of,
    is_guardian,
    is_minor,
    known_and_minors,
    link_guardian,
    minimum_age_in_effect,
    minors_among,
    set_age,
    unlink_guardian,
)
from privasi.subjects.models import GuardianLink, Subject, SubjectIdentifier
from privasi.vault.core import vault_for
from privasi.vault.errors import VaultError

__all__ = [
    "IDENTIFIER_KINDS",
    "RELATIONSHIPS",
    "GuardianLink",
    "Subject",
    "SubjectsConflict",
    "add_identifiers",
    "contact_for",
    "find_by_identifier",
    "find_existing",
    "find_or_create",
    "get_subject",
    "guardians_of",
    "identifiers",
    "identifiers_of",
    "is_guardian",
    "is_minor",
    "known_and_minors",
    "link_guardian",
    "list_subjects",
    "minors_among",
    "resolve",
    "set_age",
    "set_objection",
    "set_restricted",
    "unlink_guardian",
]


class SubjectsConflict(Conflict):
    type = "subjects-conflict"
    title = "The identifiers belong to different subjects"

    def __init__(self, subject_ids: Iterable[str]) -> None:
        ids = sorted(set(subject_ids))
        super().__init__(
            f"the identifiers given match {len(ids)} different subjects ({', '.join(ids)}); "
            "staff must merge them first",
            subject_ids=ids,
        )


def _aad(kind: str) -> str:
    return f"subject_identifier:{kind}"


def _normalised(identifiers: dict[str, str]) -> dict[str, str]:
    if not isinstance(identifiers, dict) or not identifiers:
        raise ValidationFailed("give at least one identifier", field="identifiers")
    return {kind: ident.normalise(kind, value) for kind, value in identifiers.items()}


def _insert(session: PrivasiSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _owners(session: PrivasiSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not keys:
        return {}
    rows = session.execute(
        select(SubjectIdentifier.kind, SubjectIdentifier.blind_index, SubjectIdentifier.subject_id)
        .where(SubjectIdentifier.blind_index.in_([b for _, b in keys]))
        .execution_options(populate_existing=True)
    ).all()
    wanted = set(keys)
    return {(k, b): s for k, b, s in rows if (k, b) in wanted}


def store_identifiers(
    session: PrivasiSession, subject_id: str, values: dict[str, str]
) -> dict[str, str]:
    """Insert the identifiers not yet stored; returns the owner of each (kind, index) pair
    afterwards, so a caller sees when a concurrent writer got there first."""
    org_id = session.require_org()
    vault = vault_for(session)
    rows: list[dict[str, str | Any]] = []
    for kind, value in values.items():
        rows.append(
            {
                "id": new_id(),
                "org_id": org_id,
                "subject_id": subject_id,
                "kind": kind,
                "blind_index": ident.blind_index(vault, org_id, kind, value),
                "value_enc": vault.encrypt_field(org_id, subject_id, value, _aad(kind)),
                "created_at": utcnow(),
            }
        )
    session.execute(
        _insert(session)(SubjectIdentifier).on_conflict_do_nothing(
            index_elements=["org_id", "kind", "blind_index"]
        ),
        rows,
    )
    owners = _owners(session, [(str(r["kind"]), str(r["blind_index"])) for r in rows])
    return {str(r["kind"]): owners.get((str(r["kind"]), str(r["blind_index"])), "") for r in rows}


def find_existing(session: PrivasiSession, identifiers: dict[str, str]) -> Subject | None:
    """The one subject any of these identifiers names, None if none; two raise a conflict."""
    values = _normalised(identifiers)
    vault = vault_for(session)
    org_id = session.require_org()
    keys = [k for kind_, v in values.items() for k in ident.lookup_keys(vault, org_id, kind_, v)]
    found = set(_owners(session, keys).values())
    if len(found) > 1:
        raise SubjectsConflict(found)
    return get_subject(session, found.pop()) if found else None


def find_or_create(
    session: PrivasiSession,
    principal: Principal,
    identifiers: dict[str, str],
    *,
    kind: str | None = None,
    birth_date: date | None = None,
    declared_age: int | None = None,
) -> Subject:
    """The subject these identifiers name, created if none does. New identifiers are added to an
    existing subject; identifiers of two different subjects raise ``SubjectsConflict``."""
    values = _normalised(identifiers)
    vault = vault_for(session)
    org_id = session.require_org()
    keys = [k for kind_, v in values.items() for k in ident.lookup_keys(vault, org_id, kind_, v)]
    found = set(_owners(session, keys).values())
    if len(found) > 1:
        raise SubjectsConflict(found)
    if found:
        subject = get_subject(session, found.pop())
        add_identifiers(session, principal, subject, identifiers)
        if birth_date is not None or declared_age is not None:
            set_age(session, principal, subject, birth_date=birth_date, declared_age=declared_age)
        return subject

    today = utcnow().date()
    facts = age_facts(birth_date, declared_age, today)
    subject = Subject(kind=kind, objections=[])
    session.add(subject)
    session.flush()
    owners = store_identifiers(session, subject.id, values)
    others = {o for o in owners.values() if o and o != subject.id}
    if others:
        # A concurrent request created the subject first: drop ours and use theirs.
        session.execute(delete(SubjectIdentifier).where(SubjectIdentifier.subject_id == subject.id))
        session.execute(delete(Subject).where(Subject.id == subject.id))
        session.expunge(subject)
        if len(others) > 1:
            raise SubjectsConflict(others)
        winner = get_subject(session, others.pop())
        add_identifiers(session, principal, winner, identifiers)
        return winner
    if facts is not None:
        subject.age_enc = vault.encrypt_field(org_id, subject.id, facts, "subject_age")
        minimum = minimum_age_in_effect(session)
        if minimum is not None:
            apply_age(subject, facts, minimum, today)
    session.flush()
    audit.record(
        session,
        principal,
        "subject.created",
        subject_id=subject.id,
        details={"identifier_kinds": sorted(values), "age": sorted(facts or {})},
    )
    return subject


def add_identifiers(
    session: PrivasiSession, principal: Principal, subject: Subject, identifiers: dict[str, str]
) -> list[str]:
    """Attach identifiers to a subject; returns the kinds newly added. An identifier that
    belongs to another subject raises ``SubjectsConflict``."""
    values = _normalised(identifiers)
    vault = vault_for(session)
    org_id = session.require_org()
    keys = [k for kind_, v in values.items() for k in ident.lookup_keys(vault, org_id, kind_, v)]
    owners = _owners(session, keys)
    others = {o for o in owners.values() if o != subject.id}
    if others:
        raise SubjectsConflict({subject.id, *others})
    new = {
        k: v for k, v in values.items() if (k, ident.blind_index(vault, org_id, k, v)) not in owners
    }
    if not new:
        return []
    result = store_identifiers(session, subject.id, new)
    others = {o for o in result.values() if o and o != subject.id}
    if others:
        raise SubjectsConflict({subject.id, *others})
    audit.record(
        session,
        principal,
        "subject.identifiers_added",
        subject_id=subject.id,
        details={"identifier_kinds": sorted(new)},
    )
    return sorted(new)


def find_by_identifier(session: PrivasiSession, kind: str, value: str) -> Subject | None:
    normalised = ident.normalise(kind, value)
    keys = ident.lookup_keys(vault_for(session), session.require_org(), kind, normalised)
    owners = _owners(session, keys)
    # The identifier's own kind wins over its twin (a WhatsApp id over the same phone number).
    for key in keys:
        if key in owners:
            return session.get(Subject, owners[key])
    return None


def resolve(session: PrivasiSession, pairs: list[tuple[str, str]]) -> list[str | None]:
    """Subject ids for many (kind, value) identifiers at once, None where nobody has one; a
    value that is not a valid identifier of its kind also gives None."""
    vault = vault_for(session)
    org_id = session.require_org()
    wanted: list[list[tuple[str, str]]] = []
    for kind, value in pairs:
        try:
            normalised = ident.normalise(kind, value)
        except ValidationFailed:
            wanted.append([])
            continue
        wanted.append(ident.lookup_keys(vault, org_id, kind, normalised))
    flat = sorted({key for keys in wanted for key in keys})
    owners: dict[tuple[str, str], str] = {}
    for start in range(0, len(flat), 900):
        owners.update(_owners(session, flat[start : start + 900]))
    return [next((owners[k] for k in keys if k in owners), None) for keys in wanted]


def get_subject(session: PrivasiSession, subject_id: str) -> Subject:
    subject = session.get(Subject, subject_id) if isinstance(subject_id, str) else None
    if subject is None:
        raise NotFound("subject not found")
    return subject


def list_subjects(
    session: PrivasiSession, limit: int = 50, cursor: str | None = None
) -> tuple[list[Subject], str | None]:
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    stmt = select(Subject).order_by(Subject.id)
    if cursor:
        stmt = stmt.where(Subject.id > cursor)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def identifiers(session: PrivasiSession, subject: Subject) -> dict[str, list[str]]:
    """The subject's identifiers in the clear, by kind; empty after erasure (key shredded)."""
    return _identifiers(session, subject.org_id, subject.id)


_IDENTIFIERS: Table = SubjectIdentifier.__table__  # type: ignore[assignment]
# Built once, the subject id a parameter: a Core select on the table (the session's scope listener
# adds the organisation's WHERE), which costs a fraction of an ORM entity query. Connector tasks
# read a subject's identifiers once per task, thousands of times in a bulk erasure.
_IDENTIFIERS_OF = (
    select(_IDENTIFIERS.c.kind, _IDENTIFIERS.c.value_enc)
    .where(_IDENTIFIERS.c.subject_id == bindparam("subject_id"))
    .order_by(_IDENTIFIERS.c.created_at, _IDENTIFIERS.c.id)
)


def identifiers_of(session: PrivasiSession, subject_id: str) -> dict[str, list[str]]:
    """``identifiers`` by the subject's id, in one query (no load of the subject itself): empty
    for a subject of another organisation or none at all, as for a shredded one."""
    return _identifiers(session, session.require_org(), subject_id)


# The same for many subjects at once (a worker's batch of rights requests), in one query.
_IDENTIFIERS_OF_MANY = (
    select(_IDENTIFIERS.c.subject_id, _IDENTIFIERS.c.kind, _IDENTIFIERS.c.value_enc)
    .where(_IDENTIFIERS.c.subject_id.in_(bindparam("subject_ids", expanding=True)))
    .order_by(_IDENTIFIERS.c.subject_id, _IDENTIFIERS.c.created_at, _IDENTIFIERS.c.id)
)


def identifiers_of_many(
    session: PrivasiSession, subject_ids: Iterable[str]
) -> dict[str, dict[str, list[str]]]:
    """``identifiers_of`` for each of these subjects (of the session's organisation), by subject
    id, read in one query; a subject of another organisation, or none, gets an empty dict."""
    org_id = session.require_org()
    wanted = list(dict.fromkeys(subject_ids))
    out: dict[str, dict[str, list[str]]] = {sid: {} for sid in wanted}
    if not wanted:
        return out
    vault = vault_for(session)
    for subject_id, kind, value_enc in session.execute(
        _IDENTIFIERS_OF_MANY, {"subject_ids": wanted}
    ).all():
        try:
            value = vault.decrypt_field(org_id, subject_id, value_enc, _aad(kind))
        except VaultError:
            continue
        out[subject_id].setdefault(kind, []).append(str(value))
    return out


def _identifiers(session: PrivasiSession, org_id: str, subject_id: str) -> dict[str, list[str]]:
    vault = vault_for(session)
    out: dict[str, list[str]] = {}
    rows = session.execute(_IDENTIFIERS_OF, {"subject_id": subject_id}).all()
    for kind, value_enc in rows:
        try:
            value = vault.decrypt_field(org_id, subject_id, value_enc, _aad(kind))
        except VaultError:
            continue
        out.setdefault(kind, []).append(str(value))
    return out


def remove_identifiers(
    session: PrivasiSession, principal: Principal, subject: Subject, kinds: Iterable[str]
) -> int:
    """Delete the subject's identifiers of these kinds (e.g. an unlinked social login); the
    subject stays known by the others. Returns how many were removed."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in IDENTIFIER_KINDS]
    if unknown or not kinds:
        raise ValidationFailed("unknown identifier kind", field="kinds")
    result = session.execute(
        delete(SubjectIdentifier).where(
            SubjectIdentifier.subject_id == subject.id, SubjectIdentifier.kind.in_(kinds)
        )
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    audit.record(
        session,
        principal,
        "subject.identifiers_removed",
        subject_id=subject.id,
        details={"kinds": list(kinds), "removed": removed},
    )
    return removed


def read_identifiers(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str | None = None
) -> dict[str, list[str]]:
    """The identifiers shown to a person or a client: a read of personal data, so it is audited
    (UU PDP Pasal 31) and appears in the subject's own processing record."""
    values = identifiers(session, subject)
    audit.record(
        session,
        principal,
        "subject.read",
        subject_id=subject.id,
        purpose=purpose,
        details={"fields": sorted(values)},
    )
    return values


def contact_for(session: PrivasiSession, subject: Subject, channel: str) -> str | None:
    """The e-mail address or number to reach the subject on ``channel``, or None."""
    kinds = CONTACT_KINDS.get(channel)
    if kinds is None:
        return None
    values = identifiers(session, subject)
    for kind in kinds:
        if values.get(kind):
            value = values[kind][-1]
            # The WhatsApp Cloud API addresses numbers without the plus sign.
            return value.lstrip("+") if channel == "whatsapp" else value
    return None


# --- restriction and objection ----------------------------------------------------------------


def set_restricted(
    session: PrivasiSession, principal: Principal, subject: Subject, restricted: bool
) -> Subject:
    """Restrict (UU PDP Pasal 11) or lift the restriction; checks honour it at once."""
    if subject.restricted != restricted:
        session.execute(
            update(Subject).where(Subject.id == subject.id).values(restricted=restricted)
        )
        subject.restricted = restricted
        audit.record(
            session,
            principal,
            "subject.restricted" if restricted else "subject.restriction_lifted",
            subject_id=subject.id,
        )
    return subject


def set_objection(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, objects: bool
) -> Subject:
    """Record or withdraw an objection to a purpose ("*": to all processing that allows it)."""
    if not purpose or len(purpose) > 100:
        raise ValidationFailed("purpose must be 1-100 characters", field="purpose")
    current = list(subject.objections or [])
    if objects and purpose not in current:
        current.append(purpose)
    elif not objects and purpose in current:
        current.remove(purpose)
    else:
        return subject
    subject.objections = sorted(current)
    session.flush()
    audit.record(
        session,
        principal,
        "subject.objected" if objects else "subject.objection_withdrawn",
        subject_id=subject.id,
        purpose=purpose,
    )
    return subject
