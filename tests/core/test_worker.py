"""The worker finds due work in the database and does each piece once, also with several workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from privasi import worker
from privasi.db import utcnow
from privasi.jobs import service as jobs
from privasi.jobs.models import Job

RUNS: Counter[str] = Counter()
LOCK = threading.Lock()


@jobs.handler("test.count")
def _count(db, job):
    with LOCK:
        RUNS[job.payload["n"]] += 1
    return {"ok": True}


@jobs.handler("test.flaky")
def _flaky(db, job):
    if job.attempts < 2:
        raise RuntimeError("transient")
    return {"attempts": job.attempts}


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()


def test_due_jobs_run_once_and_future_jobs_wait(db):
    with db.session(system=True) as s:
        for n in range(5):
            jobs.enqueue(s, "test.count", {"n": str(n)})
        jobs.enqueue(s, "test.count", {"n": "later"}, due_at=utcnow() + timedelta(hours=1))
        jobs.enqueue(s, "test.count", {"n": "0"}, dedupe_key="same")
        jobs.enqueue(s, "test.count", {"n": "0"}, dedupe_key="same")
    worker.tick(db)
    assert RUNS["0"] == 2 and RUNS["4"] == 1 and "later" not in RUNS
    assert sum(RUNS.values()) == 6
    worker.tick(db)
    assert sum(RUNS.values()) == 6  # nothing twice


def test_failures_retry_with_backoff_then_succeed(db):
    with db.session(system=True) as s:
        job = jobs.enqueue(s, "test.flaky")
    worker.tick(db)
    with db.session(system=True) as s:
        row = s.get(Job, job.id)
        assert row.state == "pending" and row.last_error == "RuntimeError"
        assert row.due_at > utcnow()
        row.due_at = utcnow()  # let time pass
    worker.tick(db)
    with db.session(system=True) as s:
        row = s.get(Job, job.id)
        assert row.state == "done" and row.result == {"attempts": 2}


def test_unknown_kind_fails_visibly(db):
    with db.session(system=True) as s:
        job = jobs.enqueue(s, "test.nobody-handles-this")
    worker.tick(db)
    with db.session(system=True) as s:
        row = s.get(Job, job.id)
        assert row.state == "failed" and "no handler" in row.last_error


def test_expired_lease_is_reclaimed(db):
    with db.session(system=True) as s:
        jobs.enqueue(s, "test.count", {"n": "lease"})
    claimed = jobs.claim(db, "dead-worker")
    assert len(claimed) == 1
    assert jobs.claim(db, "other") == []
    with db.session(system=True) as s:
        s.get(Job, claimed[0].id).locked_until = utcnow() - timedelta(seconds=1)
    worker.tick(db)
    assert RUNS["lease"] == 1
    assert jobs.run_one(db, claimed[0], "dead-worker") == "lost"


@pytest.mark.pg_only
def test_concurrent_workers_share_without_overlap(db):
    total = 300
    with db.session(system=True) as s:
        for n in range(total):
            jobs.enqueue(s, "test.count", {"n": str(n)})
    threads = [threading.Thread(target=worker.tick, args=(db, f"w{i}", 7)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(RUNS) == total and set(RUNS.values()) == {1}
    with db.session(system=True) as s:
        assert s.scalar(select(func.count()).where(Job.state == "done")) == total


def test_enqueue_is_part_of_the_callers_transaction(db):
    with pytest.raises(RuntimeError), db.session(system=True) as s:
        jobs.enqueue(s, "test.count", {"n": "rolled-back"}, dedupe_key="rb-1")
        raise RuntimeError("the change that caused the job failed")
    with db.session(system=True) as s:
        assert s.scalar(select(Job).where(Job.dedupe_key == "rb-1")) is None
