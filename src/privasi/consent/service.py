"""The consent ledger: record grants and withdrawals with proof, keep the projection, check.

Every write appends events and updates the stored projection (``consent_states``) in the same
transaction, under the projection row's lock, so the projection is always the ledger's last event
and a check never replays the ledger. Every change is an audit event. No HTTP and no CLI here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, Table, and_, bindparam, cast, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from privasi.audit import service as audit
from privasi.consent.models import ConsentEvent, ConsentState, ConsentText
from privasi.consent.purposes import (
    ESSENTIAL,
    KEPT_UNDER_RESTRICTION_BASES,
    KEPT_UNDER_RESTRICTION_IDS,
    MinorNeedsGuardian,
    MinorsNotAccepted,
    NotConsentBased,
    UnknownPurpose,
    consent_purposes,
    cookie_purpose,
    policy_in_effect,
    require_consent_rule,
    rule_for,
)
from privasi.consent.purposes import withdrawal_consequences as _consequences
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.policy.schema import Policy
from privasi.policy.vocab import LegalBasis
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject

__all__ = [
    "CHANNELS",
    "METHODS",
    "REASONS",
    "ConsentEvent",
    "Decision",
    "MinorNeedsGuardian",
    "MinorsNotAccepted",
    "NotConsentBased",
    "Proof",
    "UnknownPurpose",
    "check",
    "consent_purposes",
    "cookie_purpose",
    "current_states",
    "expire",
    "grant",
    "history",
    "mark_renewal",
    "record_many",
    "withdraw",
    "withdrawal_consequences",
]

CHANNELS = ("web", "whatsapp", "email", "sms", "api", "staff", "in_app")
METHODS = (
    "checkbox",
    "button",
    "keyword",
    "one-click",
    "gpc",
    "form",
    "signature",
    "verbal",
    "import",
    "system",
)
LANGUAGES = ("id", "en")
GRANTED, WITHDRAWN, EXPIRED = "granted", "withdrawn", "expired"
REASONS = (
    "consent",
    "no_consent",
    "withdrawn",
    "expired",
    "minor_without_guardian",
    "restricted",
    "objection",
    "contract",
    "legal_obligation",
    "legitimate_interest",
    "vital_interest",
    "public_task",
    "essential",
    "unknown_purpose",
    "unknown_subject",
)
MAX_CHECK = 10_000
MAX_TEXT = 20_000
_CHUNK = 900
# Checks read 10,000 subjects per call: fewer, larger statements (SQLite >= 3.32 and
# PostgreSQL both take far more bound parameters than this).
_CHECK_CHUNK = 5000

withdrawal_consequences = _consequences


@dataclass
class Proof:
    """What shows the person really chose: the notice version, the exact words shown and how."""

    policy_version: int | None
    text: str
    language: str
    channel: str
    method: str
    source: str | None = None
    user_agent: str | None = None
    client_addr: str | None = None  # already truncated by the caller; truncated again here
    guardian_id: str | None = None


@dataclass
class Decision:
    subject_id: str
    purpose: str
    allowed: bool
    reason: str


def _truncate_addr(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationFailed("client_addr is not an IP address", field="client_addr") from None
    prefix = 24 if network.version == 4 else 48
    return str(network.supernet(new_prefix=prefix) if network.prefixlen > prefix else network)


def _clean_proof(proof: Proof, action: str) -> Proof:
    method = proof.method.replace("_", "-") if isinstance(proof.method, str) else proof.method
    if proof.channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    if method not in METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(METHODS)}", field="method")
    if proof.language not in LANGUAGES:
        raise ValidationFailed("language must be 'id' or 'en'", field="language")
    text = proof.text or ""
    if action == GRANTED and not text.strip():
        raise ValidationFailed(
            "a grant needs the exact text the person was shown", field="proof.text"
        )
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"the text is longer than {MAX_TEXT} characters", field="text")
    return Proof(
        policy_version=proof.policy_version,
        text=text,
        language=proof.language,
        channel=proof.channel,
        method=method,
        source=(proof.source or None) and proof.source[:500],
        user_agent=(proof.user_agent or None) and proof.user_agent[:500],
        client_addr=_truncate_addr(proof.client_addr),
        guardian_id=proof.guardian_id or None,
    )


def _insert(session: PrivasiSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_guardian(policy: Policy, minors: set[str], proof: Proof) -> None:
    """A minor's consent comes from a linked guardian, when the policy accepts minors at all."""
    if not minors:
        return
    if not policy.minors.guardian_consent:
        raise MinorsNotAccepted(
            f"the policy accepts nobody under {policy.minors.minimum_age}, even with a "
            "guardian's consent"
        )
    if proof.guardian_id is None:
        raise MinorNeedsGuardian(
            f"the subject is under {policy.minors.minimum_age}: consent must be given by a "
            "linked parent or guardian (give guardian_id)"
        )


def _check_guardian_link(session: PrivasiSession, ids: list[str], guardian_id: str) -> None:
    for sid in ids:
        if not subjects.is_guardian(session, sid, guardian_id):
            raise ValidationFailed(
                "guardian_id is not a linked guardian of this subject", field="guardian_id"
            )


@dataclass
class _Locked:
    seq: int
    guardian_id: str | None
    renew_from: date | None
    renew_version: int | None


_STATES: Table = ConsentState.__table__  # type: ignore[assignment]
_EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]


def _lock_states(
    session: PrivasiSession, subject_ids: Sequence[str], purpose: str
) -> dict[str, _Locked]:
    """The projection rows of these subjects for ``purpose``, created if missing and locked
    (FOR UPDATE on PostgreSQL; the insert has taken SQLite's single write lock already).
    Core statements throughout: ORM objects for thousands of rows cost more than the writes."""
    org_id = session.require_org()
    session.execute(
        _insert(session)(_STATES).on_conflict_do_nothing(index_elements=["subject_id", "purpose"]),
        [{"org_id": org_id, "subject_id": s, "purpose": purpose, "seq": 0} for s in subject_ids],
    )
    t = _STATES.c
    states: dict[str, _Locked] = {}
    for chunk in _chunks(sorted(subject_ids), _CHECK_CHUNK):
        stmt = (
            select(t.subject_id, t.seq, t.guardian_id, t.renew_from, t.renew_version)
            .where(t.purpose == purpose, t.subject_id.in_(chunk))
            .order_by(t.subject_id)
            .with_for_update()
        )
        states.update((row[0], _Locked(*row[1:])) for row in session.execute(stmt))
    return states


def _store_text(session: PrivasiSession, proof: Proof) -> str:
    sha = hashlib.sha256(proof.text.encode()).hexdigest()
    session.execute(
        _insert(session)(ConsentText).on_conflict_do_nothing(index_elements=["org_id", "sha256"]),
        [
            {
                "id": new_id(),
                "org_id": session.require_org(),
                "sha256": sha,
                "language": proof.language,
                "text": proof.text,
                "created_at": utcnow(),
            }
        ],
    )
    return sha


def known_subjects(session: PrivasiSession, subject_ids: Sequence[str]) -> set[str]:
    """Which of these ids are subjects of the session's organisation."""
    found: set[str] = set()
    for chunk in _chunks(list(subject_ids), _CHECK_CHUNK):
        found.update(session.scalars(select(Subject.id).where(Subject.id.in_(chunk))))
    return found


def _record(
    session: PrivasiSession,
    principal: Principal,
    subject_ids: Sequence[str],
    purpose: str,
    action: str,
    proof: Proof,
) -> list[str]:
    """Append one ``action`` event per subject and move the projection with it; returns ids."""
    ids = list(dict.fromkeys(subject_ids))
    policy, version_number = policy_in_effect(session)
    rule = require_consent_rule(policy, purpose)
    proof = _clean_proof(proof, action)
    if not ids:
        return []
    known, minors = subjects.known_and_minors(session, ids, policy)
    missing = set(ids) - known
    if missing:
        raise NotFound(f"{len(missing)} subject(s) not found")
    if proof.guardian_id is not None:
        _check_guardian_link(session, ids, proof.guardian_id)
    if action == GRANTED:
        _check_guardian(policy, minors, proof)
    version = proof.policy_version if proof.policy_version is not None else version_number
    sha = _store_text(session, proof)
    states = _lock_states(session, ids, rule.id)
    now = utcnow()
    events: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    org_id = session.require_org()
    for sid in ids:
        state = states[sid]
        event_id = new_id()
        seq = state.seq + 1
        events.append(
            {
                "id": event_id,
                "org_id": org_id,
                "subject_id": sid,
                "purpose": rule.id,
                "seq": seq,
                "action": action,
                "occurred_at": now,
                "policy_version": version,
                "text_sha256": sha,
                "language": proof.language,
                "channel": proof.channel,
                "method": proof.method,
                "source": proof.source,
                "user_agent": proof.user_agent,
                "client_addr": proof.client_addr,
                "guardian_id": proof.guardian_id,
                "actor": principal.actor[:100],
            }
        )
        granted = action == GRANTED
        moves.append(
            {
                "b_subject": sid,
                "b_purpose": rule.id,
                "seq": seq,
                "status": action,
                "event_id": event_id,
                "policy_version": version,
                "guardian_id": proof.guardian_id if granted else state.guardian_id,
                "changed_at": now,
                "renew_from": None if granted else state.renew_from,
                "renew_version": None if granted else state.renew_version,
            }
        )
    session.execute(insert(_EVENTS), events)
    table = _STATES
    session.execute(
        update(table)
        .where(
            table.c.subject_id == bindparam("b_subject"), table.c.purpose == bindparam("b_purpose")
        )
        .values(
            seq=bindparam("seq"),
            status=bindparam("status"),
            event_id=bindparam("event_id"),
            policy_version=bindparam("policy_version"),
            guardian_id=bindparam("guardian_id"),
            changed_at=bindparam("changed_at"),
            renew_from=bindparam("renew_from"),
            renew_version=bindparam("renew_version"),
        ),
        moves,
    )
    # Projection rows this session loaded earlier would be stale now.
    for obj in [o for o in session.identity_map.values() if isinstance(o, ConsentState)]:
        session.expire(obj)
    details: dict[str, Any] = {
        "channel": proof.channel,
        "method": proof.method,
        "policy_version": version,
    }
    if proof.guardian_id:
        details["guardian_id"] = proof.guardian_id
    if len(ids) == 1:
        details["event_id"] = events[0]["id"]
        audit.record(
            session, principal, f"consent.{action}", subject_id=ids[0], purpose=rule.id,
            details=details,
        )  # fmt: skip
    else:
        audit.record(
            session, principal, f"consent.{action}", purpose=rule.id, details=details,
            subject_ids=ids,
        )  # fmt: skip
    return [e["id"] for e in events]


def _one(session: PrivasiSession, event_id: str) -> ConsentEvent:
    event = session.get(ConsentEvent, event_id)
    assert event is not None
    return event


def grant(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    """Record consent for a consent-based purpose; refuses other legal bases and minors without
    their guardian."""
    return _one(session, _record(session, principal, [subject.id], purpose, GRANTED, proof)[0])


def withdraw(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    """Record a withdrawal; a check answers 'withdrawn' from this transaction's commit on."""
    return _one(session, _record(session, principal, [subject.id], purpose, WITHDRAWN, proof)[0])


def expire(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    return _one(session, _record(session, principal, [subject.id], purpose, EXPIRED, proof)[0])


def record_many(
    session: PrivasiSession,
    principal: Principal,
    subject_ids: Sequence[str],
    purpose: str,
    action: str,
    proof: Proof,
) -> list[str]:
    """The same event with the same proof for many subjects (an import, a list-wide opt-out).
    Every subject must exist: see ``known_subjects`` to drop unknown ids first."""
    if action not in (GRANTED, WITHDRAWN, EXPIRED):
        raise ValidationFailed("action must be granted, withdrawn or expired", field="action")
    if len(subject_ids) > MAX_CHECK:
        raise ValidationFailed(f"at most {MAX_CHECK} subjects per call", field="subject_ids")
    return _record(session, principal, subject_ids, purpose, action, proof)


# --- reading -----------------------------------------------------------------------------------


def history(session: PrivasiSession, subject_id: str) -> list[ConsentEvent]:
    """Every consent event of the subject, oldest first."""
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subject_id == subject_id)
            .order_by(ConsentEvent.occurred_at, ConsentEvent.purpose, ConsentEvent.seq)
        )
    )


def current_states(session: PrivasiSession, subject_id: str) -> list[ConsentState]:
    return list(
        session.scalars(
            select(ConsentState)
            .where(ConsentState.subject_id == subject_id, ConsentState.status.is_not(None))
            .order_by(ConsentState.purpose)
        )
    )


def texts(session: PrivasiSession, shas: Iterable[str]) -> dict[str, ConsentText]:
    wanted = sorted(set(shas))
    out: dict[str, ConsentText] = {}
    for chunk in _chunks(wanted):
        for row in session.scalars(select(ConsentText).where(ConsentText.sha256.in_(chunk))):
            out[row.sha256] = row
    return out


def get_event(session: PrivasiSession, event_id: str) -> ConsentEvent:
    event = session.get(ConsentEvent, event_id)
    if event is None:
        raise NotFound("consent event not found")
    return event


# --- checking ----------------------------------------------------------------------------------


def _objects(objections: list[str], purpose: str) -> bool:
    return "*" in objections or purpose in objections


@dataclass
class _Row:
    restricted: bool
    objections: list[str]
    status: str | None
    guardian_id: str | None
    renew_from: date | None
    minor: bool | None  # None: computed for another minimum age, ask the subjects service


def _rows(session: PrivasiSession, ids: list[str], purpose: str, policy: Policy) -> dict[str, _Row]:
    """Everything a check needs about these subjects, in one query per chunk of 5,000.

    Objections are read as text and parsed only when not empty, and the minor flag comes from
    the stored ``minor_until``: parsing JSON or opening keys for 10,000 rows would dominate."""
    today = utcnow().date()
    minimum = policy.minors.minimum_age
    out: dict[str, _Row] = {}
    for chunk in _chunks(ids, _CHECK_CHUNK):
        stmt = (
            select(
                Subject.id,
                Subject.restricted,
                cast(Subject.objections, String),
                Subject.age_enc.is_not(None),
                Subject.minor_until,
                Subject.minor_age,
                ConsentState.status,
                ConsentState.guardian_id,
                ConsentState.renew_from,
            )
            .outerjoin(
                ConsentState,
                and_(ConsentState.subject_id == Subject.id, ConsentState.purpose == purpose),
            )
            .where(Subject.id.in_(chunk))
        )
        for (
            sid,
            restricted,
            objections,
            aged,
            until,
            age,
            status,
            guardian,
            renew,
        ) in session.execute(stmt):
            minor: bool | None = False
            if aged:
                minor = (until is not None and until > today) if age == minimum else None
            out[sid] = _Row(
                bool(restricted),
                json.loads(objections) if objections and objections != "[]" else [],
                status,
                guardian,
                renew,
                minor,
            )
    return out


def check(session: PrivasiSession, subject_ids: list[str], purpose: str) -> list[Decision]:
    """May each subject's data be used for ``purpose`` now? One decision per id, in order."""
    if len(subject_ids) > MAX_CHECK:
        raise ValidationFailed(f"at most {MAX_CHECK} subjects per check", field="subject_ids")
    policy, _ = policy_in_effect(session)
    rule = rule_for(policy, purpose)
    if rule is None:
        return [Decision(s, purpose, False, "unknown_purpose") for s in subject_ids]
    rows = _rows(session, list(dict.fromkeys(subject_ids)), rule.id, policy)
    today = utcnow().date()
    kept = rule.id in KEPT_UNDER_RESTRICTION_IDS or rule.basis in KEPT_UNDER_RESTRICTION_BASES
    consent_based = rule.basis == LegalBasis.consent.value
    name = rule.id

    def decide(sid: str) -> Decision:
        row = rows.get(sid)
        if row is None:
            return Decision(sid, name, False, "unknown_subject")
        if row.restricted and not kept:
            return Decision(sid, name, False, "restricted")
        if rule.basis == ESSENTIAL:
            return Decision(sid, name, True, "essential")
        if not consent_based:
            if rule.basis == LegalBasis.legitimate_interest.value and _objects(
                row.objections, name
            ):
                return Decision(sid, name, False, "objection")
            return Decision(sid, name, True, rule.basis)
        if row.objections and _objects(row.objections, name):
            return Decision(sid, name, False, "objection")
        if row.status is None:
            return Decision(sid, name, False, "no_consent")
        if row.status != GRANTED:
            return Decision(sid, name, False, row.status)
        if row.renew_from is not None and row.renew_from <= today:
            return Decision(sid, name, False, EXPIRED)
        if row.guardian_id is None:
            minor = row.minor
            if minor is None:
                minor = subjects.is_minor(session, subjects.get_subject(session, sid), policy)
            if minor:
                return Decision(sid, name, False, "minor_without_guardian")
        return Decision(sid, name, True, "consent")

    return [decide(sid) for sid in subject_ids]


# --- material policy changes (used by privasi.consent.renewal) ---------------------------------


def granted_subjects(session: PrivasiSession, purpose: str) -> list[str]:
    """Subjects whose consent for ``purpose`` currently stands."""
    return list(
        session.scalars(
            select(ConsentState.subject_id)
            .where(ConsentState.purpose == purpose, ConsentState.status == GRANTED)
            .order_by(ConsentState.subject_id)
        )
    )


def mark_renewal(
    session: PrivasiSession, subject_id: str, purpose: str, version: int, effective: date
) -> bool:
    """From ``effective`` on, the subject's grant for ``purpose`` no longer covers the terms and
    checks answer 'expired' until they consent again. False if there is no standing grant."""
    table: Table = ConsentState.__table__  # type: ignore[assignment]
    result = session.execute(
        update(table)
        .where(
            table.c.subject_id == subject_id,
            table.c.purpose == purpose,
            table.c.status == GRANTED,
            table.c.policy_version.is_(None) | (table.c.policy_version < version),
        )
        .values(renew_from=effective, renew_version=version)
    )
    return bool(getattr(result, "rowcount", 0))
