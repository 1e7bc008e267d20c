"""Daily verification and checkpoint of every organisation's audit chain, by the worker.

A broken chain is reported in the logs (error level, with the organisation id and the first bad
sequence number, never event contents) and the job fails, so it shows in the job list.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.orgs.models import Organisation
from privasi.orgs.service import system_principal
from privasi.worker import reconciler

log = logging.getLogger("privasi.audit")
KIND = "audit.daily_checkpoint"


class AuditChainBroken(RuntimeError):
    pass


@reconciler("audit-daily-checkpoint")
def _schedule(system: PrivasiSession) -> int:
    """One job per organisation per day (UTC); the dedupe key makes this safe to run every tick."""
    today: date = utcnow().date()
    created = 0
    for org_id in system.scalars(select(Organisation.id)):
        key = f"{KIND}:{org_id}:{today.isoformat()}"
        if system.scalar(select(Job.id).where(Job.dedupe_key == key)) is None:
            jobs.enqueue(system, KIND, {"org_id": org_id}, org_id=org_id, dedupe_key=key)
            created += 1
    return created


@jobs.handler(KIND)
def _run(db: Database, job: Job) -> dict[str, Any]:
    org_id = job.payload["org_id"]
    with db.session(org_id) as session:
        result = audit.verify(session, org_id)
        if not result.ok:
            log.error(
                "audit chain broken",
                extra={"org_id": org_id, "first_bad_seq": result.first_bad_seq},
            )
            raise AuditChainBroken(f"first bad event {result.first_bad_seq}")
        head = audit.checkpoint(session, system_principal(org_id, "worker"))
    return {"checked": result.checked, "seq": head.seq}
