"""Recording events and detecting every kind of tampering with the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from privasi.audit import chain
from privasi.audit import service as audit
from privasi.audit.models import AuditEvent, AuditHead
from privasi.db import Database
from privasi.orgs.service import Principal, system_principal
from privasi.vault.service import Vault


def _staff(org_id: str) -> Principal:
    return Principal(
        org_id=org_id,
        actor_type="staff",
        actor_id="staff-7",
        permissions=frozenset(),
        home_org_id=org_id,
        request_id="req-abc",
        client_addr="203.0.113.0/24",
    )


def _write(db: Database, org_id: str, n: int = 5) -> None:
    with db.session(org_id) as s:
        for i in range(n):
            audit.record(s, _staff(org_id), "subject.read", subject_id=f"subj-{i}", purpose="crm")


def _verify(db: Database, org_id: str, cp: audit.Checkpoint | None = None) -> audit.VerifyResult:
    with db.session(org_id) as s:
        return audit.verify(s, org_id, cp)


def _sql(db: Database, statement: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_record_fills_the_event_from_the_principal(vault: Vault, db: Database, org_id: str) -> None:
    with db.session(org_id) as s:
        event = audit.record(
            s,
            _staff(org_id),
            "subject.rectified",
            subject_id="subj-1",
            purpose="support",
            details={"fields": ["address", "phone"]},
        )
    assert (event.seq, event.actor, event.client_addr, event.request_id) == (
        1,
        "staff:staff-7",
        "203.0.113.0/24",
        "req-abc",
    )
    assert event.prev_mac == chain.GENESIS and len(event.mac) == 64
    assert event.key_id == vault.audit_key(org_id)[0]
    assert _verify(db, org_id).ok


def test_events_are_part_of_the_callers_transaction(
    vault: Vault, db: Database, org_id: str
) -> None:
    with pytest.raises(RuntimeError), db.session(org_id) as s:
        audit.record(s, _staff(org_id), "subject.read", subject_id="subj-1")
        raise RuntimeError("the business change failed")
    with db.session(org_id) as s:
        assert audit.query(s).items == []
    _write(db, org_id, 1)
    result = _verify(db, org_id)
    assert result.ok and result.last_seq == 1


def test_chains_are_per_organisation(
    vault: Vault, db: Database, org_id: str, other_org_id: str
) -> None:
    _write(db, org_id, 3)
    _write(db, other_org_id, 2)
    assert _verify(db, org_id).last_seq == 3
    assert _verify(db, other_org_id).last_seq == 2
    with db.session(other_org_id) as s:
        assert {e.subject_id for e in audit.query(s).items} == {"subj-0", "subj-1"}


def test_bulk_call_writes_one_event_with_count_and_digest(
    vault: Vault, db: Database, org_id: str
) -> None:
    ids = [f"subj-{i}" for i in range(1000)]
    with db.session(org_id) as s:
        event = audit.record(
            s, system_principal(org_id, "retention"), "retention.swept", subject_ids=ids
        )
    expected = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    assert (event.count, event.subjects_digest, event.subject_id) == (1000, expected, None)
    assert audit.subjects_digest(reversed(ids)) == (1000, expected)
    with db.session(org_id) as s:
        assert len(audit.query(s).items) == 1


@pytest.mark.parametrize(
    "details",
    [
        {"email": "ani.wijaya@contoh.co.id"},
        {"changed": {"phone": "0812-3456-7890"}},
        {"old": ["+62 812 3456 7890"]},
    ],
)
def test_personal_values_are_refused_in_details(
    vault: Vault, db: Database, org_id: str, details: dict
) -> None:
    with db.session(org_id) as s, pytest.raises(audit.PersonalDataInAudit) as info:
        audit.record(s, _staff(org_id), "subject.rectified", details=details)
    assert "contoh" not in str(info.value) and "3456" not in str(info.value)


def test_ordinary_details_pass(vault: Vault, db: Database, org_id: str) -> None:
    details = {
        "fields": ["email", "phone"],
        "request": "5f0c7a2e-9b1d-4c3e-8a6f-051840899254",
        "at": "2026-11-21T23:00:00Z",
        "count": 12345678,
    }
    with db.session(org_id) as s:
        assert audit.record(s, _staff(org_id), "subject.rectified", details=details).details == (
            details
        )


@pytest.mark.parametrize("action", ["Read", "subject", "subject read", "subject.", "x" * 101])
def test_action_names_are_checked(vault: Vault, db: Database, org_id: str, action: str) -> None:
    with db.session(org_id) as s, pytest.raises(ValueError):
        audit.record(s, _staff(org_id), action)


# --- tampering ---------------------------------------------------------------------------------


def test_intact_chain_verifies(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    result = _verify(db, org_id)
    assert (result.ok, result.checked, result.last_seq, result.first_bad_seq) == (True, 5, 5, None)


def test_edited_row(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "UPDATE audit_events SET subject_id = 'subj-x' WHERE seq = 3")
    result = _verify(db, org_id)
    assert (result.ok, result.problem, result.first_bad_seq) == (False, "bad_mac", 3)
    assert result.first_bad_id is not None and "event 3" in result.message


def test_edited_details(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "UPDATE audit_events SET details = :d WHERE seq = 4", d=json.dumps({"x": 1}))
    assert _verify(db, org_id).first_bad_seq == 4


def test_deleted_row(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "DELETE FROM audit_events WHERE seq = 2")
    result = _verify(db, org_id)
    assert (result.problem, result.first_bad_seq) == ("missing", 2)
    assert "event 2 is missing" in result.message


def test_deleted_row_with_renumbering(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "DELETE FROM audit_events WHERE seq = 2")
    for seq in (3, 4, 5):
        _sql(db, "UPDATE audit_events SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    assert (_verify(db, org_id).problem, _verify(db, org_id).first_bad_seq) == ("bad_mac", 2)


def test_inserted_row(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    for seq in (5, 4, 3):
        _sql(db, "UPDATE audit_events SET seq = :new WHERE seq = :old", new=seq + 1, old=seq)
    _sql(
        db,
        "INSERT INTO audit_events (id, org_id, seq, occurred_at, actor, action, details, key_id, "
        "prev_mac, mac) SELECT 'forged', org_id, 3, occurred_at, actor, 'subject.read', details, "
        "key_id, mac, :mac FROM audit_events WHERE seq = 2",
        mac="f" * 64,
    )
    result = _verify(db, org_id)
    assert (result.first_bad_seq, result.first_bad_id) == (3, "forged")


def test_appended_row(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(
        db,
        "INSERT INTO audit_events (id, org_id, seq, occurred_at, actor, action, details, key_id, "
        "prev_mac, mac) SELECT 'forged', org_id, 6, occurred_at, actor, action, details, key_id, "
        "mac, :mac FROM audit_events WHERE seq = 5",
        mac="a" * 64,
    )
    assert _verify(db, org_id).first_bad_seq == 6


def test_reordered_rows(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "UPDATE audit_events SET seq = 100 WHERE seq = 2")
    _sql(db, "UPDATE audit_events SET seq = 2 WHERE seq = 3")
    _sql(db, "UPDATE audit_events SET seq = 3 WHERE seq = 100")
    result = _verify(db, org_id)
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_truncated_tail_is_caught_by_the_head(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    _sql(db, "DELETE FROM audit_events WHERE seq >= 4")
    result = _verify(db, org_id)
    assert (result.problem, result.first_bad_seq) == ("head_mismatch", 4)


def test_truncated_tail_with_head_rewritten_needs_a_checkpoint(
    vault: Vault, db: Database, org_id: str
) -> None:
    _write(db, org_id)
    with db.session(org_id) as s:
        cp = audit.checkpoint(s, _staff(org_id))
    assert cp.seq == 5
    _sql(db, "DELETE FROM audit_checkpoints")  # the intruder removes what is in the database ...
    _sql(db, "DELETE FROM audit_events WHERE seq >= 4")
    _sql(
        db,
        "UPDATE audit_heads SET seq = 3, mac = (SELECT mac FROM audit_events WHERE seq = 3)",
    )
    assert _verify(db, org_id).ok  # ... so the database alone cannot tell
    result = _verify(db, org_id, cp)  # the checkpoint kept outside can
    assert (result.ok, result.problem, result.first_bad_seq) == (False, "truncated", 4)
    assert "events 4-5" in result.message


def test_stored_checkpoints_are_checked_too(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    with db.session(org_id) as s:
        audit.checkpoint(s, _staff(org_id))
    _sql(db, "DELETE FROM audit_events WHERE seq = 5")
    _sql(db, "UPDATE audit_heads SET seq = 4, mac = (SELECT mac FROM audit_events WHERE seq = 4)")
    assert (_verify(db, org_id).problem, _verify(db, org_id).first_bad_seq) == ("truncated", 5)


def test_chain_recomputed_without_the_key(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id)
    guessed = b"not-the-audit-key"
    with db.session(org_id) as s:
        events = s.query(AuditEvent).order_by(AuditEvent.seq).all()
        prev = chain.GENESIS
        for event in events:
            event.subject_id = "subj-rewritten"
            event.prev_mac = prev
            event.mac = chain.event_mac(guessed, event)
            prev = event.mac
    _sql(db, "UPDATE audit_heads SET mac = :m", m=prev)
    result = _verify(db, org_id)
    assert (result.problem, result.first_bad_seq) == ("bad_mac", 1)


def test_forged_checkpoint_is_refused(
    vault: Vault, db: Database, org_id: str, tmp_path: Path
) -> None:
    _write(db, org_id)
    with db.session(org_id) as s:
        cp = audit.checkpoint(s, _staff(org_id))
    data = cp.to_json() | {"seq": 9}
    forged = audit.Checkpoint.from_json(json.loads(json.dumps(data)))
    result = _verify(db, org_id, forged)
    assert (result.ok, result.problem) == (False, "bad_checkpoint")


def test_checkpoint_mismatch_after_rewrite_with_the_key(
    vault: Vault, db: Database, org_id: str
) -> None:
    """Even someone holding the audit key cannot rewrite history behind a kept checkpoint."""
    _write(db, org_id)
    with db.session(org_id) as s:
        cp = audit.checkpoint(s, _staff(org_id))
    _, key = vault.audit_key(org_id)
    with db.session(org_id) as s:
        events = s.query(AuditEvent).order_by(AuditEvent.seq).all()
        prev = chain.GENESIS
        for event in events:
            event.purpose = "rewritten"
            event.prev_mac = prev
            event.mac = chain.event_mac(key, event)
            prev = event.mac
    _sql(db, "UPDATE audit_heads SET mac = :m", m=prev)
    _sql(db, "DELETE FROM audit_checkpoints")
    assert _verify(db, org_id).ok
    result = _verify(db, org_id, cp)
    assert (result.problem, result.first_bad_seq) == ("checkpoint_mismatch", 5)


def test_checkpoint_refuses_a_broken_chain(vault: Vault, db: Database, org_id: str) -> None:
    from privasi.errors import Conflict

    _write(db, org_id)
    _sql(db, "UPDATE audit_events SET action = 'x.y' WHERE seq = 1")
    with db.session(org_id) as s, pytest.raises(Conflict, match="event 1"):
        audit.checkpoint(s, _staff(org_id))


def test_mac_is_keyed(vault: Vault, db: Database, org_id: str) -> None:
    _write(db, org_id, 1)
    with db.session(org_id) as s:
        event = s.query(AuditEvent).one()
        _, key = vault.audit_key(org_id)
        assert event.mac == chain.event_mac(key, event)
        unkeyed = hashlib.sha256(chain.canonical(**_fields(event))).hexdigest()
        assert event.mac != unkeyed
        assert event.mac != hmac.new(b"", chain.canonical(**_fields(event)), "sha256").hexdigest()


def _fields(event: AuditEvent) -> dict:
    names = [
        "org_id",
        "seq",
        "occurred_at",
        "actor",
        "action",
        "subject_id",
        "purpose",
        "client_addr",
        "request_id",
        "details",
        "count",
        "subjects_digest",
        "key_id",
        "prev_mac",
    ]
    return {n: getattr(event, n) for n in names}


@pytest.mark.parametrize(
    ("field", "value"),
    [("subject_id", "ani.wijaya@contoh.co.id"), ("purpose", "hubungi 0812-3456-7890")],
)
def test_identifiers_are_refused_as_subject_or_purpose(
    vault: Vault, db: Database, org_id: str, field: str, value: str
) -> None:
    with db.session(org_id) as s, pytest.raises(audit.PersonalDataInAudit):
        audit.record(s, _staff(org_id), "subject.read", **{field: value})


def test_a_session_kept_across_commits_reads_the_current_head(
    vault: Vault, db: Database, org_id: str
) -> None:
    long_lived = db.new_session(org_id)
    audit.record(long_lived, _staff(org_id), "subject.read", subject_id="a")
    long_lived.commit()
    held = long_lived.scalars(select(AuditHead)).one()  # stays in the identity map
    _write(db, org_id, 2)  # another request moves the head meanwhile
    event = audit.record(long_lived, _staff(org_id), "subject.read", subject_id="b")
    long_lived.commit()
    long_lived.close()
    assert event.seq == 4 and held.seq == 4
    assert _verify(db, org_id).ok


def test_timestamps_in_details_are_not_mistaken_for_phone_numbers(
    vault: Vault, db: Database, org_id: str
) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 22, 3, 4, 5, 123456, tzinfo=UTC)
    moments = [(start + timedelta(microseconds=7919 * i)).isoformat() for i in range(3000)]
    assert not [m for m in moments if chain.looks_personal(m)]
    assert chain.looks_personal("hubungi 0812-3456-7890 besok")
    with db.session(org_id) as s:
        audit.record(s, _staff(org_id), "request.received", details={"due_at": moments[-1]})


def test_record_many_appends_in_order_and_the_chain_verifies(
    vault: Vault, db: Database, org_id: str
) -> None:
    _write(db, org_id, 2)
    with db.session(org_id) as s:
        written = audit.record_many(
            s,
            _staff(org_id),
            [
                {"action": "request.task_done", "subject_id": "subj-8", "details": {"n": 1}},
                {"action": "request.task_done", "subject_id": "subj-9"},
                {"action": "retention.run_finished", "count": 3},
            ],
        )
        audit.record(s, _staff(org_id), "subject.read", subject_id="subj-10")
    assert [e.seq for e in written] == [3, 4, 5]
    assert written[1].prev_mac == written[0].mac and written[2].prev_mac == written[1].mac
    result = _verify(db, org_id)
    assert result.ok and result.last_seq == 6
    with db.session(org_id) as s:
        assert [e.subject_id for e in audit.query(s).items][:4] == [
            "subj-10",
            None,
            "subj-9",
            "subj-8",
        ]
    # Checked as record checks: one bad item writes none of them.
    with pytest.raises(chain.PersonalDataInAudit), db.session(org_id) as s:
        audit.record_many(
            s,
            _staff(org_id),
            [{"action": "subject.read"}, {"action": "subject.read", "subject_id": "a@b.example"}],
        )
    assert _verify(db, org_id).last_seq == 6
