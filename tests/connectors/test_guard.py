"""Two workers running the same connector task (two jobs for one request, or a job whose lease
ran out while its worker still runs it): the second is turned away while the first runs, so every
row is counted once. On PostgreSQL this is the advisory lock of ``execution.task_guard``, which
holds across the commits after each batch (the row lock does not); on SQLite, a lock in the
process."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from privasi.connectors import sql, tables
from privasi.rights import execution
from privasi.rights import service as rights

from .conftest import BACKEND, External, verified_request
from .test_sql import _budi_untouched, _tasks


def _chat_task(db: Any, org_id: str, request_id: str) -> str:
    with db.session(org_id) as s:
        request = rights.get_request(s, request_id)
        return next(t.id for t in execution.plan(s, request) if t.system_id == "chat")


def test_a_second_run_of_a_running_task_is_turned_away_and_rows_are_counted_once(
    db: Any, toko: Any, sari: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "BATCH_ROWS", 1)
    request_id = verified_request(db, toko.id, sari, "erasure")
    task_id = _chat_task(db, toko.id, request_id)
    results: dict[str, bool] = {}
    erase = tables.erase
    first = threading.Event()

    def second_worker() -> None:
        results["second"] = execution._run_one(db, toko.id, request_id, task_id)

    def erase_then_let_another_worker_in(*args: Any) -> int:
        # Between the first batch's committed keys and its statements, the other worker starts
        # the same task and runs as far as it is allowed to, to the end without a guard.
        if not first.is_set():
            first.set()
            other = threading.Thread(target=second_worker)
            other.start()
            other.join(timeout=60)
        return erase(*args)

    monkeypatch.setattr(tables, "erase", erase_then_let_another_worker_in)
    results["first"] = execution._run_one(db, toko.id, request_id, task_id)

    assert results == {"first": True, "second": False}
    chat = _tasks(db, toko.id, request_id)["chat"]
    state = chat.result["tables"][external.name("chats")]
    assert chat.status == "done" and chat.attempts == 1
    assert state["rows"] == 5 and state["batches"] == 5 and state["pending"] is None
    assert external.rows("chats", external.table("chats").c.wa_number == "081234567001") == []
    _budi_untouched(external)
    # The turned-away run left the guard free: a later run is allowed (and finds nothing to do).
    assert execution._run_one(db, toko.id, request_id, task_id) is True


@pytest.mark.skipif(BACKEND != "postgresql", reason="advisory locks are PostgreSQL's")
def test_a_task_locked_by_another_process_is_left_alone(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    request_id = verified_request(db, toko.id, sari, "erasure")
    task_id = _chat_task(db, toko.id, request_id)
    key = execution._advisory_key(task_id)
    # Another process's connection, as a worker elsewhere holds it while it runs the task.
    other = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            assert execution._run_one(db, toko.id, request_id, task_id) is False
            chat = _tasks(db, toko.id, request_id)["chat"]
            assert chat.status == "pending" and chat.attempts == 0
            assert (
                len(external.rows("chats", external.table("chats").c.wa_number == "081234567001"))
                == 5
            )
        # The connection ended with the other process: its session lock went with it. The server
        # ends a closed connection's backend on its own time, so wait for the lock to be gone.
        _wait_until_released(db, key)
        assert execution._run_one(db, toko.id, request_id, task_id) is True
    finally:
        other.dispose()
    chat = _tasks(db, toko.id, request_id)["chat"]
    assert chat.status == "done" and chat.result["tables"][external.name("chats")]["rows"] == 5


def _wait_until_released(db: Any, key: int, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    with db.engine.connect() as conn:
        try_lock = sa.text("SELECT pg_try_advisory_lock(:k)")
        while not conn.scalar(try_lock, {"k": key}) and time.monotonic() < deadline:
            time.sleep(0.02)
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
