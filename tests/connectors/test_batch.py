"""A worker's batch of ``rights.execute`` jobs runs in one call (``execution.run_many``): every
table's first keys looked up once for all the batch's subjects and committed before any change,
each organisation in its own scope with its own systems and keys, a failure kept to its request,
and tasks another worker holds left alone."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from privasi import worker
from privasi.audit.models import AuditEvent
from privasi.connectors import sql, tables
from privasi.jobs.models import Job
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import execution
from privasi.subjects import service as subjects
from privasi.vault.service import set_secret

from .conftest import (
    BACKEND,
    EMAIL,
    OTHER_EMAIL,
    OTHER_PHONE,
    PHONE,
    External,
    seed,
    verified_request,
)
from .test_sql import _expected_hash, _tasks

SARI_CHATS = [100, 102, 104, 106, 108]
BUDI_CHATS = [101, 103, 105, 107, 109]


def _subject(db: Any, org_id: str, email: str, phone: str) -> str:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id, "test")
        return subjects.find_or_create(s, principal, {"email": email, "phone": phone}).id


@pytest.fixture
def budi(db: Any, toko: Any) -> str:
    return _subject(db, toko.id, OTHER_EMAIL, "+62" + OTHER_PHONE[1:])


@pytest.fixture
def second(db: Any, make_org: Any, tmp_path: Path, database_url: str) -> Any:
    """Another organisation with its own shop and chat databases holding the same people."""
    if BACKEND == "postgresql":
        suffix = uuid.uuid4().hex[:8]
        found = External(database_url, database_url, f"shop_{suffix}", f"chat_{suffix}")
    else:
        found = External(
            f"sqlite:///{tmp_path / 'shop2.sqlite'}",
            f"sqlite:///{tmp_path / 'chat2.sqlite'}",
            None,
            None,
        )
    seed(found)
    org = make_org("toko-kedua")
    source = found.policy_source().replace("slug: toko-contoh", "slug: toko-kedua")
    with db.session(org.id) as s:
        principal = orgs.system_principal(org.id, "test")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
        set_secret(s, principal, "shop_db", found.shop_url)
        set_secret(s, principal, "chat_db", found.chat_url)
    return org, found


def _chat_ids(external: External) -> list[int]:
    return [r["id"] for r in external.rows("chats")]


def _done_events(db: Any, org_id: str) -> int:
    with db.session(org_id) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "request.task_done")
            )
            or 0
        )


def test_a_batch_of_two_organisations_erases_each_in_its_own_systems_with_its_own_keys(
    db: Any, toko: Any, sari: str, budi: str, external: External, second: Any
) -> None:
    other_org, other = second
    budi_there = _subject(db, other_org.id, OTHER_EMAIL, "+62" + OTHER_PHONE[1:])
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, other_org.id, budi_there, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    outcomes = execution.run_many(db, requests)
    assert all(isinstance(o, dict) and set(o.values()) == {"done"} for o in outcomes.values())
    # Toko Contoh's databases: both its subjects gone, their orders hashed under its own key.
    assert _chat_ids(external) == []
    assert external.rows("customers") == []
    hashed = {_expected_hash(db, toko.id, EMAIL), _expected_hash(db, toko.id, OTHER_EMAIL)}
    assert {o["customer_email"] for o in external.rows("orders")} == hashed
    # The other organisation's: only Budi, hashed under that organisation's key; Sari untouched.
    assert _chat_ids(other) == SARI_CHATS
    assert [c["email"] for c in other.rows("customers")] == [EMAIL]
    emails = {o["customer_email"] for o in other.rows("orders")}
    assert emails == {EMAIL, _expected_hash(db, other_org.id, OTHER_EMAIL)}
    assert _expected_hash(db, other_org.id, OTHER_EMAIL) not in hashed
    # Each organisation's audit chain holds its own tasks' events: shop, chat, privasi each.
    assert _done_events(db, toko.id) == 6
    assert _done_events(db, other_org.id) == 3


def test_first_keys_are_looked_up_once_per_table_for_the_batch_and_committed_before_any_change(
    db: Any, toko: Any, sari: str, budi: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    statements: list[str] = []
    seen: list[dict[str, Any]] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not seen:
            statements.append(statement)

    with db.session(toko.id) as s:  # the tables' reflection, as a worker that ran before has it
        engines = [sql.connect(s, sql.system_of(s, name))[0] for name in ("shop", "chat")]
    for engine in set(engines):
        sa.event.listen(engine, "before_cursor_execute", count)
    erase = tables.erase

    def spying_erase(*args: Any) -> int:
        if not seen:
            seen.append(
                {
                    (r, system): (t.status, t.result)
                    for r in requests
                    for system, t in _tasks(db, toko.id, r).items()
                }
            )
        return erase(*args)

    monkeypatch.setattr(tables, "erase", spying_erase)
    try:
        outcomes = execution.run_many(db, requests)
    finally:
        for engine in set(engines):
            sa.event.remove(engine, "before_cursor_execute", count)
    assert all(isinstance(o, dict) for o in outcomes.values())
    n = external.name
    first = seen[0]
    for request_id in requests:
        assert first[(request_id, "shop")][0] == "running"
        assert first[(request_id, "chat")][0] == "running"
    sari_tables = first[(requests[0], "shop")][1]["tables"]
    budi_tables = first[(requests[1], "shop")][1]["tables"]
    assert sari_tables[n("orders")]["pending"] == [[10], [12], [14]]
    assert budi_tables[n("orders")]["pending"] == [[11], [13], [15]]
    assert sari_tables[n("reviews")]["pending"] == [[1], [2]]
    assert budi_tables[n("reviews")]["pending"] == [[3]]
    assert first[(requests[0], "chat")][1]["tables"][n("chats")]["pending"] == [
        [i] for i in SARI_CHATS
    ]
    # Before the first change: one look-up per table for both subjects, nothing else read.
    lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(lookups) == 4, lookups
    tasks = {r: _tasks(db, toko.id, r) for r in requests}
    for request_id in requests:
        assert tasks[request_id]["shop"].status == "done"
        assert tasks[request_id]["shop"].result["tables"][n("orders")]["rows"] == 3
        assert tasks[request_id]["chat"].result["tables"][n("chats")]["rows"] == 5


def test_a_failure_in_one_request_stays_its_own_and_its_retry_counts_rows_once(
    db: Any, toko: Any, sari: str, budi: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    erase = tables.erase

    def failing_for_sari_chats(conn: Any, mapped: Any, plan: Any, keys: Any, hv: Any) -> int:
        if mapped.name.endswith("chats") and [100] in keys:
            raise sa.exc.OperationalError("DELETE", {}, Exception("connection reset"))
        return erase(conn, mapped, plan, keys, hv)

    monkeypatch.setattr(tables, "erase", failing_for_sari_chats)
    outcomes = execution.run_many(db, requests)
    assert isinstance(outcomes[requests[0]], RuntimeError)
    assert outcomes[requests[1]] == {"privasi": "done", "shop": "done", "chat": "done"}
    sari_tasks = _tasks(db, toko.id, requests[0])
    assert sari_tasks["shop"].status == "done"
    assert sari_tasks["chat"].status == "failed"
    assert "connection reset" not in str(sari_tasks["chat"].result)  # the class only
    assert sari_tasks["privasi"].status == "pending"  # the shred waits for every system
    assert _chat_ids(external) == SARI_CHATS  # Budi's chats went, Sari's stayed

    monkeypatch.setattr(tables, "erase", erase)
    outcomes = execution.run_many(db, requests)
    assert outcomes[requests[0]] == {"privasi": "done", "shop": "done", "chat": "done"}
    assert _chat_ids(external) == []
    chat = _tasks(db, toko.id, requests[0])["chat"]
    assert chat.attempts == 2 and chat.result["tables"][external.name("chats")]["rows"] == 5
    assert _done_events(db, toko.id) == 6  # each task reported done once


def test_tasks_another_worker_holds_are_left_to_it_and_the_rest_of_the_batch_runs(
    db: Any, toko: Any, sari: str, budi: str, external: External
) -> None:
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    held = _tasks(db, toko.id, requests[0])["chat"].id
    # Another worker runs Sari's chat task now (on PostgreSQL its advisory lock, held on a
    # connection of its own; on SQLite the lock in this process).
    with execution.task_guard(db, held) as mine:
        assert mine == [held]
        outcomes = execution.run_many(db, requests)
    assert isinstance(outcomes[requests[0]], RuntimeError)  # its job retries later
    assert outcomes[requests[1]] == {"privasi": "done", "shop": "done", "chat": "done"}
    sari_tasks = _tasks(db, toko.id, requests[0])
    assert sari_tasks["chat"].status == "pending" and sari_tasks["chat"].attempts == 0
    assert sari_tasks["shop"].status == "done"
    assert _chat_ids(external) == SARI_CHATS
    assert execution.run_many(db, requests)[requests[0]] == {
        "privasi": "done",
        "shop": "done",
        "chat": "done",
    }


def test_the_worker_hands_its_due_rights_jobs_to_one_batch_call(
    db: Any, toko: Any, sari: str, budi: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    calls: list[list[str]] = []
    run_many = execution.run_many

    def spying(database: Any, request_ids: list[str]) -> Any:
        calls.append(list(request_ids))
        return run_many(database, request_ids)

    monkeypatch.setattr(execution, "run_many", spying)
    worker.tick(db)
    assert [sorted(c) for c in calls] == [sorted(requests)]
    with db.session(system=True) as s:
        jobs = list(s.scalars(select(Job).where(Job.kind == execution.EXECUTE_KIND)))
    assert jobs and all(j.state == "done" and j.attempts == 1 for j in jobs)
    assert external.rows("customers") == []


def test_first_keys_many_falls_back_for_big_subjects_and_big_batches(
    db: Any, toko: Any, external: External
) -> None:
    """The set-based look-up answers only what it saw completely: a subject with a full batch
    or more, or a statement that found more than the cap, is left to the per-subject look-up;
    rows found through another table go to the subject of that table's row."""
    with db.session(toko.id) as s:
        shop_engine, shop = sql.connect(s, sql.system_of(s, "shop"))
        chat_engine, (chats,) = sql.connect(s, sql.system_of(s, "chat"))
    sari_phone = tables.match_values(chats.kind(), {"phone": [PHONE]})
    budi_phone = tables.match_values(chats.kind(), {"phone": ["+62" + OTHER_PHONE[1:]]})
    both = [sari_phone, budi_phone]
    with chat_engine.connect() as conn:
        found = tables.first_keys_many(conn, chats, both, 10, 100)
        assert found == [[[i] for i in SARI_CHATS], [[i] for i in BUDI_CHATS]]
        # Five rows each: a batch of five is full, so each is looked up on its own.
        assert tables.first_keys_many(conn, chats, both, 5, 100) == [None, None]
        assert tables.first_keys_many(conn, chats, both, 10, 9) == [None, None]
    reviews = next(m for m in shop if m.name.endswith("reviews"))
    with shop_engine.connect() as conn:
        found = tables.first_keys_many(conn, reviews, [[EMAIL], [OTHER_EMAIL], [EMAIL]], 10, 100)
    assert found == [[[1], [2]], [[3]], [[1], [2]]]
