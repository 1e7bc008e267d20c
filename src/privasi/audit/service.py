"""The audit trail: record events in the caller's transaction, query them, checkpoint and verify.

Events are chained per organisation: each carries the MAC of the one before, and its own MAC is an
HMAC-SHA256 under the organisation's audit key, which lives in the key store. Someone with access
to the main database alone can neither edit an event nor recompute the chain after an edit.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from privasi.audit import chain
from privasi.audit.chain import GENESIS, PersonalDataInAudit, subjects_digest
from privasi.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from privasi.audit.trail import describe, subject_trail
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import Conflict, UnscopedQueryError, ValidationFailed
from privasi.orgs.service import Principal
from privasi.vault.core import Vault, vault_for

__all__ = [
    "AuditPage",
    "Checkpoint",
    "PersonalDataInAudit",
    "VerifyResult",
    "checkpoint",
    "describe",
    "query",
    "record",
    "record_many",
    "subject_trail",
    "subjects_digest",
    "verify",
]

MAX_PAGE = 500
# Core statements on the head: cheaper than ORM ones, and readers load it with populate_existing
HEADS = cast(Table, AuditHead.__table__)
EVENTS = cast(Table, AuditEvent.__table__)


def _truncate(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def _head_query(org_id: str) -> Any:
    # populate_existing: the head is written with Core statements, which leave an instance
    # already in the session's identity map as it was
    return (
        select(AuditHead)
        .where(AuditHead.org_id == org_id)
        .execution_options(populate_existing=True)
    )


# Built once: the chain's three statements run for every event (the tenant scope still adds its
# own organisation criteria to each when it runs).
_LOCK_HEAD = (
    update(HEADS)
    .where(HEADS.c.org_id == bindparam("head_org"))
    .values(seq=HEADS.c.seq)
    .returning(HEADS.c.id, HEADS.c.seq, HEADS.c.mac)
)
_INSERT_EVENT = insert(EVENTS)
_ADVANCE_HEAD = (
    update(HEADS)
    .where(HEADS.c.org_id == bindparam("head_org"))
    .values(
        seq=bindparam("new_seq", type_=HEADS.c.seq.type),
        mac=bindparam("new_mac", type_=HEADS.c.mac.type),
        updated_at=bindparam("new_at", type_=HEADS.c.updated_at.type),
    )
)


def _lock_head(session: PrivasiSession, org_id: str) -> tuple[str, int, str]:
    """The chain head's (id, seq, mac), its row locked until the transaction ends.

    One ``UPDATE ... RETURNING`` locks and reads at once: on PostgreSQL it takes the row lock
    as ``SELECT ... FOR UPDATE`` would; on SQLite (which ignores FOR UPDATE) it takes the
    database's write lock before the head is read, so a concurrent writer waits instead of
    reading the same head. Read through the database, never the session's identity map, so a
    session kept across commits cannot reuse a head read in an earlier transaction.
    """
    row = session.execute(_LOCK_HEAD, {"head_org": org_id}).first()
    if row is None:
        dialect = session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            upsert(AuditHead).on_conflict_do_nothing(index_elements=["org_id"]),
            [{"org_id": org_id, "seq": 0, "mac": GENESIS, "updated_at": utcnow()}],
        )
        row = session.execute(_LOCK_HEAD, {"head_org": org_id}).first()
    assert row is not None
    return str(row[0]), int(row[1]), str(row[2])


def record(
    session: PrivasiSession,
    principal: Principal,
    action: str,
    subject_id: str | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
    count: int | None = None,
    subject_ids: Iterable[str] | None = None,
    *,
    vault: Vault | None = None,
) -> AuditEvent:
    """Append one event to the principal's organisation chain, in the caller's transaction.

    ``details`` hold field names, ids and counts, never personal values. A bulk call passes
    ``subject_ids`` (or just ``count``): one event records how many and a digest of which.
    """
    entry = _checked(action, subject_id, purpose, details, count, subject_ids)
    return _append(session, principal, [entry], vault)[0]


def record_many(
    session: PrivasiSession,
    principal: Principal,
    events: Sequence[Mapping[str, Any]],
    *,
    vault: Vault | None = None,
) -> list[AuditEvent]:
    """``record`` for several events of one principal, in order, in the caller's transaction:
    the chain head locked and moved once (a batch of work recorded at once). Each item holds
    ``record``'s arguments by name (``action``, and optionally ``subject_id``, ``purpose``,
    ``details``, ``count``, ``subject_ids``), checked as ``record`` checks them."""
    entries = [_checked(**dict(item)) for item in events]
    return _append(session, principal, entries, vault) if entries else []


def _checked(
    action: str,
    subject_id: str | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
    count: int | None = None,
    subject_ids: Iterable[str] | None = None,
) -> dict[str, Any]:
    if not chain.ACTION_RE.match(action) or len(action) > 100:
        raise ValueError(f"audit action {action!r} must look like 'domain.verb'")
    clean = chain.clean_details(details)
    for name, value in (("subject_id", subject_id), ("purpose", purpose)):
        if value is not None and chain.looks_personal(value):
            raise PersonalDataInAudit(
                f"audit {name} looks like an e-mail address or phone number; pass the subject's "
                "id, never an identifier"
            )
    if subject_id is not None and not 0 < len(subject_id) <= 64:
        raise ValueError("an audit subject id is 1-64 characters")
    digest = None
    if subject_ids is not None:
        counted, digest = subjects_digest(subject_ids)
        count = counted if count is None else count
    if count is not None and count < 0:
        raise ValueError("an audit count cannot be negative")
    return {
        "action": action,
        "subject_id": subject_id,
        "purpose": _truncate(purpose, 100),
        "details": clean,
        "count": count,
        "subjects_digest": digest,
    }


def _append(
    session: PrivasiSession,
    principal: Principal,
    entries: list[dict[str, Any]],
    vault: Vault | None,
) -> list[AuditEvent]:
    org_id = principal.org_id
    if session.org_id not in (None, org_id):
        raise UnscopedQueryError("recording an audit event for another organisation")
    key_id, key = (vault or vault_for(session)).audit_key(org_id)

    head_id, seq, mac = _lock_head(session, org_id)
    now = utcnow()
    written: list[AuditEvent] = []
    for entry in entries:
        seq += 1
        event = AuditEvent(
            id=new_id(),
            org_id=org_id,
            seq=seq,
            occurred_at=now,
            actor=principal.actor[:100],
            client_addr=_truncate(principal.client_addr, 64),
            request_id=_truncate(principal.request_id, 64),
            key_id=key_id,
            prev_mac=mac,
            **entry,
        )
        event.mac = mac = chain.event_mac(key, event)
        written.append(event)
    # the caller's pending changes first, as before; the events themselves go in as one Core
    # insert (the returned instances are not in the session: they are never changed once written)
    session.flush()
    session.execute(
        _INSERT_EVENT, [{c.key: getattr(e, c.key) for c in EVENTS.columns} for e in written]
    )
    session.execute(
        _ADVANCE_HEAD, {"head_org": org_id, "new_seq": seq, "new_mac": mac, "new_at": now}
    )
    held = session.identity_map.get(identity_key(AuditHead, head_id))
    if held is not None:
        # a head instance loaded earlier in this session follows the Core write, not dirtied
        set_committed_value(held, "seq", seq)
        set_committed_value(held, "mac", mac)
        set_committed_value(held, "updated_at", now)
    return written


# --- reading -----------------------------------------------------------------------------------


@dataclass
class AuditPage:
    items: list[AuditEvent]
    next_cursor: str | None


def query(
    session: PrivasiSession,
    subject_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Newest first. ``action`` ending in ``.*`` matches a prefix (``secret.*``); ``until`` is
    exclusive; ``cursor`` is the ``next_cursor`` of the previous page."""
    session.require_org()
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    stmt = select(AuditEvent)
    if subject_id is not None:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action is not None:
        if action.endswith(".*"):
            stmt = stmt.where(AuditEvent.action.startswith(action[:-1], autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if cursor is not None:
        try:
            before = int(cursor)
        except ValueError:
            raise ValidationFailed("cursor is not valid", field="cursor") from None
        stmt = stmt.where(AuditEvent.seq < before)
    rows = list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, str(rows[-1].seq) if more and rows else None)


# --- checkpoints and verification --------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    org_id: str
    seq: int
    mac: str
    created_at: datetime
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "privasi-audit-checkpoint/1",
            "org_id": self.org_id,
            "seq": self.seq,
            "mac": self.mac,
            "created_at": self.created_at.isoformat(),
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            if data["format"] != "privasi-audit-checkpoint/1":
                raise ValueError("unknown format")
            return cls(
                org_id=str(data["org_id"]),
                seq=int(data["seq"]),
                mac=str(data["mac"]),
                created_at=datetime.fromisoformat(data["created_at"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed("not a privasi audit checkpoint") from exc


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    last_seq: int
    problem: str | None = None  # missing | broken_link | bad_mac | head_mismatch | truncated ...
    first_bad_seq: int | None = None
    first_bad_id: str | None = None
    message: str = "the audit chain is intact"
    checkpoints_checked: int = 0


def _fail(result: VerifyResult, problem: str, seq: int, event_id: str | None, msg: str) -> None:
    result.ok = False
    result.problem = problem
    result.first_bad_seq = seq
    result.first_bad_id = event_id
    result.message = msg


def verify(
    session: PrivasiSession,
    org_id: str,
    checkpoint: Checkpoint | None = None,
    *,
    vault: Vault | None = None,
) -> VerifyResult:
    """Walk the organisation's chain and name the first event that does not hold up."""
    vault = vault or vault_for(session)
    keys: dict[str, bytes] = {}
    result = VerifyResult(ok=True, checked=0, last_seq=0)
    expected, prev = 1, GENESIS
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.org_id == org_id)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    macs_at: dict[int, str] = {}
    wanted = {c.seq for c in _checkpoints(session, org_id, checkpoint)}
    for event in session.scalars(stmt):
        if event.seq != expected:
            _fail(
                result,
                "missing",
                expected,
                None,
                f"event {expected} is missing: event {event.seq} follows event {expected - 1} "
                "(rows deleted or renumbered)",
            )
            return result
        if event.key_id not in keys:
            keys[event.key_id] = vault.audit_key_by_id(org_id, event.key_id)
        if not hmac.compare_digest(event.mac, chain.event_mac(keys[event.key_id], event)):
            _fail(
                result,
                "bad_mac",
                event.seq,
                event.id,
                f"event {event.seq} fails its MAC check: edited, inserted, reordered, or the "
                "chain was recomputed without the audit key",
            )
            return result
        if event.prev_mac != prev:
            _fail(
                result,
                "broken_link",
                event.seq,
                event.id,
                f"event {event.seq} does not follow event {event.seq - 1}: rows were removed, "
                "inserted or reordered",
            )
            return result
        if event.seq in wanted:
            macs_at[event.seq] = event.mac
        prev = event.mac
        result.checked += 1
        expected += 1
    result.last_seq = expected - 1

    head = session.scalar(_head_query(org_id))
    if head is not None and (head.seq != result.last_seq or head.mac != prev):
        _fail(
            result,
            "head_mismatch",
            result.last_seq + 1,
            None,
            f"the log ends at event {result.last_seq} but its head records event {head.seq}: "
            "events were deleted from the end",
        )
        return result
    for cp in _checkpoints(session, org_id, checkpoint):
        _check_checkpoint(result, vault, org_id, cp, macs_at)
        if not result.ok:
            return result
        result.checkpoints_checked += 1
    return result


def _checkpoints(
    session: PrivasiSession, org_id: str, given: Checkpoint | None
) -> list[Checkpoint]:
    stored = [
        Checkpoint(org_id, c.seq, c.mac, c.created_at, c.signature)
        for c in session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.org_id == org_id))
    ]
    # The checkpoint kept outside the database comes first: it is the one an intruder cannot edit.
    return ([given] if given is not None else []) + stored


def _check_checkpoint(
    result: VerifyResult, vault: Vault, org_id: str, cp: Checkpoint, macs_at: dict[int, str]
) -> None:
    if cp.org_id != org_id:
        raise ValidationFailed("the checkpoint belongs to another organisation")
    _, key = vault.audit_key(org_id)
    expected_sig = chain.checkpoint_signature(key, cp.org_id, cp.seq, cp.mac)
    if not hmac.compare_digest(expected_sig, cp.signature):
        _fail(
            result,
            "bad_checkpoint",
            cp.seq,
            None,
            f"the checkpoint at event {cp.seq} is not signed by this organisation's audit key",
        )
    elif cp.seq > result.last_seq:
        _fail(
            result,
            "truncated",
            result.last_seq + 1,
            None,
            f"the log ends at event {result.last_seq} but a checkpoint recorded event {cp.seq}: "
            f"events {result.last_seq + 1}-{cp.seq} were removed from the end",
        )
    elif cp.seq > 0 and macs_at.get(cp.seq) != cp.mac:
        _fail(
            result,
            "checkpoint_mismatch",
            cp.seq,
            None,
            f"event {cp.seq} is not the event the checkpoint recorded: the chain was rewritten",
        )


def checkpoint(
    session: PrivasiSession, principal: Principal, *, vault: Vault | None = None
) -> Checkpoint:
    """Verify the chain, then store and return its head signed under the audit key."""
    vault = vault or vault_for(session)
    org_id = principal.org_id
    result = verify(session, org_id, vault=vault)
    if not result.ok:
        raise Conflict(f"the audit chain does not verify: {result.message}")
    head = session.scalar(_head_query(org_id))
    seq, mac = (head.seq, head.mac) if head is not None else (0, GENESIS)
    _, key = vault.audit_key(org_id)
    row = AuditCheckpoint(
        org_id=org_id,
        seq=seq,
        mac=mac,
        created_at=utcnow(),
        created_by=principal.actor[:100],
        signature=chain.checkpoint_signature(key, org_id, seq, mac),
    )
    session.add(row)
    session.flush()
    return Checkpoint(org_id, seq, mac, row.created_at, row.signature)
