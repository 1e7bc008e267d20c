"""The consent ledger: record grants and withdrawals with proof, keep the projection.

Every write appends events and updates the stored projection (``consent_states``) in the same
transaction, under the projection row's lock, so the projection is always the ledger's last event
and a check (``checks.py``, re-exported here) never replays the ledger. Every change is an audit
event. No HTTP and no CLI here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from privasi.audit import service as audit
from privasi.consent import bulk
from privasi.consent.checks import (
    CHECK_CHUNK,
    EXPIRED,
    GRANTED,
    MAX_CHECK,
    REASONS,
    WITHDRAWN,
    Decision,
    check,
)
from privasi.consent.models import ConsentEvent, ConsentState, ConsentText
from privasi.consent.purposes import (
    MinorNeedsGuardian,
    MinorsNotAccepted,
    NotConsentBased,
    UnknownPurpose,
    consent_purposes,
    cookie_purpose,
    policy_in_effect,
    require_consent_rule,
)
from privasi.consent.purposes import withdrawal_consequences as _consequences
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.policy.models import PolicyVersion
from privasi.policy.schema import Policy
from privasi.subjects import service as subjects
from privasi.subjects.models import SQLITE_BY_ID, Subject

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
MAX_TEXT = 20_000
_CHUNK = 900

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


def _require_published(session: PrivasiSession, number: int) -> None:
    """A proof names the notice the person saw: it must be a version the organisation published."""
    published = session.scalar(
        select(PolicyVersion.id).where(
            PolicyVersion.number == number, PolicyVersion.status == "published"
        )
    )
    if published is None:
        raise ValidationFailed(
            f"policy version {number} was never published", field="proof.policy_version"
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
_MOVED = (
    "seq", "status", "event_id", "policy_version", "guardian_id", "changed_at", "renew_from",
    "renew_version",
)  # fmt: skip


def _lock_states(
    session: PrivasiSession, subject_ids: Sequence[str], purpose: str
) -> dict[str, _Locked]:
    """The projection rows of these subjects for ``purpose``, created if missing and locked
    (FOR UPDATE on PostgreSQL; the insert has taken SQLite's single write lock already).
    Core statements throughout: ORM objects for thousands of rows cost more than the writes."""
    org_id = session.require_org()
    bulk.insert_rows(
        session,
        _STATES,
        [{"org_id": org_id, "subject_id": s, "purpose": purpose, "seq": 0} for s in subject_ids],
        conflict=["subject_id", "purpose"],
    )
    t = _STATES.c
    states: dict[str, _Locked] = {}
    for chunk in _chunks(sorted(subject_ids), CHECK_CHUNK):
        stmt = (
            select(t.subject_id, t.seq, t.guardian_id, t.renew_from, t.renew_version)
            .where(t.purpose == purpose, bulk.among(session, t.subject_id, list(chunk)))
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
    for chunk in _chunks(list(subject_ids), CHECK_CHUNK):
        found.update(
            session.scalars(
                select(Subject.id)
                .where(bulk.among(session, Subject.id, list(chunk)))
                .with_hint(Subject, SQLITE_BY_ID, "sqlite")
            )
        )
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
    if version != version_number:
        _require_published(session, version)
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
                "org_id": org_id,
                "subject_id": sid,
                "purpose": rule.id,
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
    bulk.insert_rows(session, _EVENTS, events)
    bulk.insert_rows(session, _STATES, moves, conflict=["subject_id", "purpose"], update=_MOVED)
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


def _writable(subject: Subject) -> Subject:
    if subject.state == "merged":
        raise InvalidTransition(
            "this subject was merged into another one: record consent for the kept subject"
        )
    return subject


def _one(session: PrivasiSession, event_id: str) -> ConsentEvent:
    event = session.get(ConsentEvent, event_id)
    assert event is not None
    return event


def grant(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    """Record consent for a consent-based purpose; refuses other legal bases and minors without
    their guardian."""
    return _one(
        session, _record(session, principal, [_writable(subject).id], purpose, GRANTED, proof)[0]
    )


def withdraw(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    """Record a withdrawal; a check answers 'withdrawn' from this transaction's commit on."""
    return _one(
        session, _record(session, principal, [_writable(subject).id], purpose, WITHDRAWN, proof)[0]
    )


def expire(
    session: PrivasiSession, principal: Principal, subject: Subject, purpose: str, proof: Proof
) -> ConsentEvent:
    return _one(
        session, _record(session, principal, [_writable(subject).id], purpose, EXPIRED, proof)[0]
    )


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
