"""The worker: moves time-driven work forward by reconciling the database, idempotently.

Each tick (1) runs every registered reconciler, which looks for what has become due (deadlines,
sweeps, deliveries) and enqueues jobs with dedupe keys, and (2) claims and runs due jobs. Running
the same tick twice, or in several processes at once, does each piece of work once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete

from privasi.db import Database, PrivasiSession, utcnow
from privasi.http.idempotency import purge_expired
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.orgs.models import StaffSession
from privasi.registry import import_if_present

log = logging.getLogger("privasi.worker")

# Modules that register job handlers and reconcilers when imported; the worker imports them all
# before its first tick, so a domain's time-driven work runs whichever process starts the worker.
HANDLER_MODULES = [
    "privasi.connectors.sql",
    "privasi.audit.jobs",
    "privasi.consent.channels.housekeeping",
    "privasi.notify.service",
    "privasi.rights.deadlines",
    "privasi.rights.downloads",
    "privasi.rights.execution",
    "privasi.connectors.http",
    "privasi.rights.routing",
    "privasi.retention.jobs",
    "privasi.breach.jobs",
    "privasi.gateway.housekeeping",
]

Reconciler = Callable[[PrivasiSession], int]
RECONCILERS: dict[str, Reconciler] = {}
FINISHED_JOB_RETENTION = timedelta(days=30)
# Jobs claimed per round of a tick (a kind with a batch handler gets up to this many in one call).
CLAIM_BATCH = 20


def reconciler(name: str) -> Callable[[Reconciler], Reconciler]:
    def register(fn: Reconciler) -> Reconciler:
        RECONCILERS[name] = fn
        return fn

    return register


@reconciler("housekeeping")
def _housekeeping(system: PrivasiSession) -> int:
    """Expired sessions, stale idempotency records and old finished jobs."""
    now = utcnow()
    removed = purge_expired(system)
    result = system.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    result = system.execute(
        delete(Job).where(
            Job.state.in_(("done", "failed")), Job.finished_at < now - FINISHED_JOB_RETENTION
        )
    )
    removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        import_if_present(name)


def tick(db: Database, ident: str | None = None, batch: int = CLAIM_BATCH) -> dict[str, int]:
    """One pass: reconcile, then drain due jobs. Returns counts for logs and tests."""
    load_handlers()
    ident = ident or worker_id()
    stats = {"reconciled": 0, "done": 0, "retry": 0, "failed": 0}
    for name, fn in RECONCILERS.items():
        try:
            with db.session(system=True) as session:
                stats["reconciled"] += fn(session)
        except Exception:
            log.exception("reconciler failed", extra={"reconciler": name})
    while True:
        claimed = jobs.claim(db, ident, batch)
        if not claimed:
            break
        states: list[str] = []
        # Kinds with a batch handler run all their claimed jobs in one call (sharing their
        # bookkeeping); the others one by one, in due order.
        batches: dict[str, list[Job]] = {}
        for job in claimed:
            if job.kind in jobs.BATCH_HANDLERS:
                batches.setdefault(job.kind, []).append(job)
            else:
                states.append(jobs.run_one(db, job, ident))
        for group in batches.values():
            states.extend(jobs.run_batch(db, group, ident).values())
        for state in states:
            key = {"done": "done", "pending": "retry", "failed": "failed"}.get(state)
            if key:
                stats[key] += 1
    return stats


def run_forever(db: Database, interval: float, stop: threading.Event) -> None:
    ident = worker_id()
    log.info("worker started", extra={"worker": ident})
    while not stop.is_set():
        try:
            stats = tick(db, ident)
            if any(stats.values()):
                log.info("worker tick", extra=stats)
        except Exception:
            log.exception("worker tick failed")
        stop.wait(interval)
    log.info("worker stopped", extra={"worker": ident})
