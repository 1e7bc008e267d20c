"""The worker verifies and checkpoints every organisation's audit chain once a day."""

from __future__ import annotations

from sqlalchemy import select, text

from privasi import worker
from privasi.audit.models import AuditCheckpoint
from privasi.jobs.models import Job
from privasi.orgs import service as orgs


def test_daily_checkpoint_once_per_org_and_day(db):
    with db.session(system=True) as s:
        acme = orgs.create_org(s, "acme", "Acme")
        orgs.create_org(s, "beta", "Beta")
    worker.tick(db)
    worker.tick(db)  # same day: nothing new
    with db.session(system=True) as s:
        jobs = s.scalars(select(Job).where(Job.kind == "audit.daily_checkpoint")).all()
        assert len(jobs) == 2 and {j.state for j in jobs} == {"done"}
    with db.session(acme.id) as s:
        assert len(s.scalars(select(AuditCheckpoint)).all()) == 1


def test_broken_chain_fails_the_job(db):
    with db.session(system=True) as s:
        acme = orgs.create_org(s, "acme", "Acme")
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET action = 'org.forged' WHERE org_id = :o"), {"o": acme.id}
        )
    worker.tick(db)
    with db.session(system=True) as s:
        job = s.scalar(select(Job).where(Job.kind == "audit.daily_checkpoint"))
        assert job.state == "pending" and job.last_error == "AuditChainBroken"
