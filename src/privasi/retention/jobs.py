"""Scheduled sweeps: once a day per organisation with a policy in effect, every rule is swept.

The reconciler enqueues one ``retention.sweep`` job per organisation and UTC day (a dedupe key, so
any number of workers enqueue it once); the handler renews its job's lease between batches, so a
sweep longer than the lease is never claimed by a second worker, and resumes unfinished runs first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from privasi import worker
from privasi.db import Database, PrivasiSession, utcnow
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.policy.models import PolicyVersion
from privasi.retention import service

SWEEP_KIND = "retention.sweep"


@worker.reconciler("retention")
def _schedule(system: PrivasiSession) -> int:
    now = utcnow()
    org_ids = system.scalars(
        select(PolicyVersion.org_id).where(PolicyVersion.status == "published").distinct()
    )
    added = 0
    for org_id in org_ids:
        key = f"{SWEEP_KIND}:{org_id}:{now.date().isoformat()}"
        if system.scalar(select(Job.id).where(Job.dedupe_key == key)) is None:
            jobs.enqueue(system, SWEEP_KIND, {}, org_id=org_id, dedupe_key=key, max_attempts=5)
            added += 1
    return added


def queue_sweep(session: PrivasiSession, org_id: str, rule: str | None, actor: str) -> Job:
    """Queue a manual sweep of one rule (checked against the policy in effect) or of every rule."""
    if rule is not None:
        service.rule_of(service.current_policy(session), rule)
    return jobs.enqueue(session, SWEEP_KIND, {"rule": rule, "actor": actor[:100]}, org_id=org_id)


@jobs.handler(SWEEP_KIND)
def _sweep(db: Database, job: Job) -> dict[str, Any]:
    assert job.org_id is not None
    beat = jobs.beat_every(db, job)
    manual = "actor" in job.payload
    runs = service.run_all(
        db,
        job.org_id,
        owner=f"job:{job.id}",
        actor=str(job.payload.get("actor") or "retention-schedule"),
        trigger="manual" if manual else "schedule",
        beat=beat,
        only=job.payload.get("rule"),
    )
    return {
        "runs": [r.id for r in runs],
        "deleted": sum(r.deleted for r in runs),
        "anonymised": sum(r.anonymised for r in runs),
    }
