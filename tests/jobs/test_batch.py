"""A kind with a batch handler gets every job of it the worker claimed in one call; each job still
ends on its own: done with its result, retried with its own backoff, or failed after its own
attempts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from privasi import worker
from privasi.db import utcnow
from privasi.jobs import service as jobs
from privasi.jobs.models import Job

CALLS: list[list[str]] = []


def _batch(db: Any, claimed: list[Job]) -> dict[str, jobs.Outcome]:
    CALLS.append([job.payload["n"] for job in claimed])
    out: dict[str, jobs.Outcome] = {}
    for job in claimed:
        if job.payload["n"].startswith("bad"):
            out[job.id] = ValueError("this one cannot be done yet")
        else:
            out[job.id] = {"n": job.payload["n"], "attempt": job.attempts}
    return out


@pytest.fixture(autouse=True)
def _kinds() -> Iterator[None]:
    CALLS.clear()
    jobs.BATCH_HANDLERS["test.batched"] = _batch
    yield
    jobs.BATCH_HANDLERS.pop("test.batched", None)
    jobs.BATCH_HANDLERS.pop("test.broken", None)


def _job(db: Any, job_id: str) -> Job:
    with db.session(system=True) as s:
        found = s.get(Job, job_id)
        assert found is not None
        return found


def test_the_worker_gives_a_kinds_claimed_jobs_to_one_call_and_ends_each_on_its_own(
    db: Any,
) -> None:
    with db.session(system=True) as s:
        good = [jobs.enqueue(s, "test.batched", {"n": str(i)}).id for i in range(3)]
        bad = jobs.enqueue(s, "test.batched", {"n": "bad"}).id
        last = jobs.enqueue(s, "test.batched", {"n": "bad-last"}, max_attempts=1).id
    stats = worker.tick(db)
    assert [sorted(c) for c in CALLS] == [["0", "1", "2", "bad", "bad-last"]]
    assert stats["done"] == 3 and stats["retry"] == 1 and stats["failed"] == 1
    for job_id, n in zip(good, "012", strict=True):
        row = _job(db, job_id)
        assert row.state == "done" and row.result == {"n": n, "attempt": 1}
        assert row.locked_by is None and row.finished_at is not None
    retried = _job(db, bad)
    assert retried.state == "pending" and retried.last_error == "ValueError"
    assert retried.due_at > utcnow() and retried.attempts == 1  # its own backoff
    failed = _job(db, last)
    assert failed.state == "failed" and failed.last_error == "ValueError"
    # Only the retried job comes back, on its own, once its backoff has passed.
    with db.session(system=True) as s:
        row = s.get(Job, bad)
        assert row is not None
        row.due_at = utcnow()
    worker.tick(db)
    assert CALLS[-1] == ["bad"]
    assert _job(db, bad).attempts == 2


def test_a_batch_handler_that_raises_retries_every_job_of_the_batch(db: Any) -> None:
    def broken(database: Any, claimed: list[Job]) -> dict[str, jobs.Outcome]:
        raise RuntimeError("the whole batch failed")

    jobs.BATCH_HANDLERS["test.broken"] = broken
    with db.session(system=True) as s:
        ids = [jobs.enqueue(s, "test.broken", {"n": str(i)}).id for i in range(2)]
    claimed = jobs.claim(db, "w1", 10)
    assert jobs.run_batch(db, claimed, "w1") == {i: "pending" for i in ids}
    for job_id in ids:
        row = _job(db, job_id)
        assert row.last_error == "RuntimeError" and row.locked_by is None


def test_a_job_whose_lease_went_to_another_worker_is_not_overwritten(db: Any) -> None:
    with db.session(system=True) as s:
        job_id = jobs.enqueue(s, "test.batched", {"n": "7"}).id
    claimed = jobs.claim(db, "w1", 10)
    with db.session(system=True) as s:
        row = s.get(Job, job_id)
        assert row is not None
        row.locked_by = "w2"  # the lease ran out and w2 claimed it meanwhile
    assert jobs.run_batch(db, claimed, "w1") == {job_id: "lost"}
    row = _job(db, job_id)
    assert row.state == "running" and row.locked_by == "w2" and row.result is None


def test_a_batch_holds_one_kind(db: Any) -> None:
    with db.session(system=True) as s:
        jobs.enqueue(s, "test.batched", {"n": "1"})
        jobs.enqueue(s, "test.other", {"n": "2"})
    with pytest.raises(ValueError, match="one kind"):
        jobs.run_batch(db, jobs.claim(db, "w1", 10), "w1")
