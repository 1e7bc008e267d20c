"""The worker side: a daily sweep per organisation, scheduled once however often the reconciler
runs; a handler renews its job's lease between batches so a long sweep is never claimed twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from privasi import worker
from privasi.db import utcnow
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.retention import service as retention
from privasi.retention.jobs import SWEEP_KIND

from .conftest import naive


def test_the_daily_sweep_is_enqueued_once_per_organisation_and_day(db: Any, business: Any) -> None:
    a = business("crm")
    business("tekino")
    for _ in range(3):
        with db.session(system=True) as s:
            worker.RECONCILERS["retention"](s)
    with db.session(system=True) as s:
        queued = list(s.scalars(select(Job).where(Job.kind == SWEEP_KIND)))
    assert len(queued) == 2 and a.org_id in {j.org_id for j in queued}


def test_a_heartbeat_keeps_a_long_job_from_being_claimed_again(db: Any) -> None:
    with db.session(system=True) as s:
        jobs.enqueue(s, "retention.test-long", {})
    (job,) = jobs.claim(db, "worker-1")
    # Four minutes into a five-minute lease the handler beats: the lease runs from now again.
    with db.session(system=True) as s:
        s.get(Job, job.id).locked_until = utcnow() + timedelta(seconds=30)
    assert jobs.heartbeat(db, job)
    with db.session(system=True) as s:
        assert s.get(Job, job.id).locked_until > utcnow() + timedelta(minutes=4)
    assert jobs.claim(db, "worker-2") == []

    # Without beats the lease runs out and another worker takes the job; the first learns it.
    with db.session(system=True) as s:
        s.get(Job, job.id).locked_until = utcnow() - timedelta(seconds=1)
    (taken,) = jobs.claim(db, "worker-2")
    assert taken.id == job.id
    assert not jobs.heartbeat(db, job)
    beat = jobs.beat_every(db, job, seconds=0)
    with pytest.raises(jobs.LeaseLost):
        beat()


def test_a_sweep_job_beats_between_batches(db: Any, business: Any, monkeypatch: Any) -> None:
    from privasi.retention import sweep

    biz = business("aspire")
    old = naive(utcnow() - timedelta(days=365 * 6))
    biz.insert(
        "core",
        "cards",
        [{"id": i, "user_email": f"k{i}@contoh.example", "closed_at": old} for i in range(1, 8)],
    )
    monkeypatch.setattr(sweep, "BATCH_ROWS", 2)
    monkeypatch.setattr(sweep, "TABLE_BATCH_ROWS", 2)
    beats: list[str] = []
    real = jobs.heartbeat

    def counting(db_: Any, job: Any, lease: Any = jobs.LEASE) -> bool:
        beats.append(job.id)
        return real(db_, job, lease)

    monkeypatch.setattr(jobs, "heartbeat", counting)
    monkeypatch.setattr(jobs, "beat_every", lambda d, j, seconds=30.0: lambda: counting(d, j))
    with db.session(biz.org_id) as s:
        jobs.enqueue(s, SWEEP_KIND, {"rule": "user_data", "actor": "test"}, org_id=biz.org_id)
    stats = worker.tick(db)
    assert stats["failed"] == 0
    assert len(beats) >= 4  # one per batch of two rows, at least
    with db.session(biz.org_id) as s:
        manual = [r for r in retention.runs(s) if r.trigger == "manual"]
    assert [r.deleted for r in manual] == [7]
    assert biz.rows("core", "cards") == []


def test_dashboard_summary_lists_the_latest_runs_and_active_holds(db: Any, business: Any) -> None:
    from privasi.retention import holds

    from .conftest import T0, principal

    biz = business("cybernet")
    for _ in range(3):
        retention.run_all(db, biz.org_id, now=T0, owner="test")
    with db.session(biz.org_id) as s:
        hold = holds.place(
            s,
            principal(biz.org_id),
            scope="category",
            target="billing",
            reason="Audit",
            owner="DPO",
        )
        summary = retention.dashboard_summary(s, utcnow() + timedelta(seconds=5))
    assert len(summary.last_runs) == 5
    starts = [r.started_at for r in summary.last_runs]
    assert starts == sorted(starts, reverse=True)
    assert summary.last_runs[0].url == f"/admin/retention#run-{summary.last_runs[0].id}"
    assert [(h.id, h.scope, h.target) for h in summary.active_holds] == [
        (hold.id, "category", "billing")
    ]
