"""SIGKILL in the middle of a multi-system erasure (a real separate process), then the job's retry:
every row of the subject is handled exactly once, in both databases, and counted once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from privasi.audit.models import AuditEvent
from privasi.config import Settings
from privasi.connectors import sql
from privasi.rights import execution
from privasi.rights.models import RequestTask

from .conftest import EMAIL, External, verified_request
from .test_sql import _budi_untouched, _expected_hash

SCRIPT = Path(__file__).parent / "data" / "erase_and_die.py"


def _kill_midway(
    settings: Settings,
    tmp_path: Path,
    request_id: str,
    point: str,
    requests: list[str] | None = None,
    at_call: int = 2,
) -> None:
    config = {
        "settings": {
            "env": settings.env,
            "data_dir": str(settings.data_dir),
            "database_url": settings.db_url,
            "keystore_url": settings.keystore_url,
            "master_key": settings.master_key,
            "secret_key": settings.secret_key,
            "worker_in_process": False,
        },
        "request_id": request_id,
        "requests": requests,
        "batch": 2,
        "table": "orders",
        # after_commit: the 2nd look for orders follows the 1st batch's commit; mid_batch: the
        # 2nd batch's statements have run but not committed.
        "at_call": at_call,
        "point": point,
    }
    path = tmp_path / f"kill-{point}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


@pytest.mark.parametrize("point", ["after_commit", "mid_batch"])
def test_sigkill_in_a_multi_system_erasure_then_resume(
    db: Any,
    settings: Settings,
    toko: Any,
    sari: str,
    external: External,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    request_id = verified_request(db, toko.id, sari, "erasure")
    expected = _expected_hash(db, toko.id, EMAIL)
    _kill_midway(settings, tmp_path, request_id, point)

    with db.session(toko.id) as s:
        tasks = {
            t.system_id: t
            for t in s.scalars(select(RequestTask).where(RequestTask.request_id == request_id))
        }
        # The first system went through its rows before the kill, but its "done" is recorded
        # only with its audit event, at the end of the batch: it still shows running.
        assert tasks["chat"].status == "running"
        assert tasks["shop"].status == "running"
        assert tasks["shop"].result["tables"][external.name("orders")]["pending"]
    orders = external.rows("orders", external.table("orders").c.id.in_([10, 12, 14]))
    hashed = [o for o in orders if o["customer_email"] == expected]
    assert len(hashed) == 2, "the kill came after the first batch of two orders"

    monkeypatch.setattr(sql, "BATCH_ROWS", 2)
    statuses = execution.run_tasks(db, request_id)
    assert set(statuses.values()) == {"done"}
    assert external.rows("chats", external.table("chats").c.wa_number == "081234567001") == []
    orders = external.rows("orders", external.table("orders").c.id.in_([10, 12, 14]))
    assert [o["customer_email"] for o in orders] == [expected] * 3  # hashed once, not twice
    _budi_untouched(external)
    with db.session(toko.id) as s:
        shop = s.scalars(
            select(RequestTask).where(
                RequestTask.request_id == request_id, RequestTask.system_id == "shop"
            )
        ).one()
        state = shop.result["tables"][external.name("orders")]
        assert state["rows"] == 3 and state["pending"] is None and state["done"]
        assert shop.result["tables"][external.name("customers")]["rows"] == 1
        chat = s.scalars(
            select(RequestTask).where(
                RequestTask.request_id == request_id, RequestTask.system_id == "chat"
            )
        ).one()
        assert chat.status == "done" and chat.attempts == 2
        assert chat.result["tables"][external.name("chats")]["rows"] == 5  # counted once
        done_events = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "request.task_done")
        )
        # shop, chat and privasi's own erasure: each reported done once.
        assert done_events == 3
        shredded = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "subject.shredded")
        )
        assert shredded == 1


@pytest.mark.parametrize("point", ["after_commit", "mid_batch"])
def test_sigkill_in_a_workers_batch_of_requests_then_resume(
    db: Any,
    settings: Settings,
    toko: Any,
    sari: str,
    external: External,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    """Two requests in one batch: the kill comes in the first's orders, after every table's
    first keys of both were committed; the batch's retry handles and counts every row once."""
    from privasi.orgs import service as orgs
    from privasi.subjects import service as subjects

    from .conftest import OTHER_EMAIL, OTHER_PHONE

    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        budi = subjects.find_or_create(
            s, principal, {"email": OTHER_EMAIL, "phone": "+62" + OTHER_PHONE[1:]}
        ).id
    requests = [
        verified_request(db, toko.id, sari, "erasure"),
        verified_request(db, toko.id, budi, "erasure"),
    ]
    hashes = [_expected_hash(db, toko.id, EMAIL), _expected_hash(db, toko.id, OTHER_EMAIL)]
    # after_commit: the orders' look-ups are the batch's two first ones (each subject has a full
    # batch, so each is looked up on its own), then the one after the first's first batch.
    _kill_midway(
        settings, tmp_path, requests[0], point, requests, 3 if point == "after_commit" else 2
    )

    orders_name = external.name("orders")
    with db.session(toko.id) as s:
        budi_shop = s.scalars(
            select(RequestTask).where(
                RequestTask.request_id == requests[1], RequestTask.system_id == "shop"
            )
        ).one()
        # Not started, but its first keys were recorded with the first request's, before any
        # change: two of its three orders (batches of two).
        assert budi_shop.status == "running"
        assert budi_shop.result["tables"][orders_name]["pending"] == [[11], [13]]
    assert len([o for o in external.rows("orders") if o["customer_email"] == hashes[0]]) == 2

    monkeypatch.setattr(sql, "BATCH_ROWS", 2)
    outcomes = execution.run_many(db, requests)
    assert all(set(o.values()) == {"done"} for o in outcomes.values())  # type: ignore[union-attr]
    assert external.rows("chats") == []
    assert external.rows("customers") == []
    orders = external.rows("orders")
    assert sorted(o["customer_email"] for o in orders) == sorted([hashes[0]] * 3 + [hashes[1]] * 3)
    with db.session(toko.id) as s:
        for task in s.scalars(
            select(RequestTask).where(
                RequestTask.request_id.in_(requests), RequestTask.kind == "sql"
            )
        ):
            counted = {name: state["rows"] for name, state in task.result["tables"].items()}
            expected = {"chat": {external.name("chats"): 5}}.get(
                task.system_id,
                {orders_name: 3, external.name("customers"): 1, external.name("reviews"): 0},
            )
            if task.system_id == "shop":
                reviews = 2 if task.request_id == requests[0] else 1
                expected[external.name("reviews")] = reviews
            assert counted == expected, task.system_id
        done_events = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "request.task_done")
        )
        assert done_events == 6  # shop, chat and privasi's own erasure of each request, once
