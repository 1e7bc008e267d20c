"""Enqueue, claim and finish jobs.

Claiming is the only contended step. On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets several workers
take disjoint batches; on SQLite one writer at a time is the rule anyway. A claimed job carries a
lease (``locked_until``): if its worker dies, the job becomes claimable again when the lease runs
out, so handlers must be idempotent.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.jobs.models import Job

log = logging.getLogger("privasi.jobs")
LEASE = timedelta(minutes=5)

Handler = Callable[[Database, Job], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {}
# A batch handler gets every claimed job of its kind at once and answers per job id: the job's
# result, or the exception that job met. Its kind shares work across the jobs (one transaction
# for all their bookkeeping), while each job keeps its own outcome, attempts and backoff.
Outcome = dict[str, Any] | None | BaseException
BatchHandler = Callable[[Database, list[Job]], dict[str, Outcome]]
BATCH_HANDLERS: dict[str, BatchHandler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``; later domains add theirs the same way."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def batch_handler(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the function that runs a batch of claimed jobs of ``kind`` in one call (the worker
    prefers it to ``handler`` when both exist)."""

    def register(fn: BatchHandler) -> BatchHandler:
        BATCH_HANDLERS[kind] = fn
        return fn

    return register


def enqueue(
    session: PrivasiSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    org_id: str | None = None,
    due_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> Job:
    """Add a job in the caller's transaction; with a ``dedupe_key`` an existing job is returned."""
    if dedupe_key is not None:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload or {},
        org_id=org_id if org_id is not None else session.org_id,
        due_at=due_at or utcnow(),
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
    )
    if dedupe_key is None or session.get_bind().dialect.name == "sqlite":
        # SQLite has one writer at a time, so the check above cannot race; and a SAVEPOINT as the
        # first statement of a pysqlite transaction would commit on its own when released.
        session.add(job)
        session.flush()
        return job
    nested = session.begin_nested()
    session.add(job)
    try:
        nested.commit()
    except IntegrityError:
        nested.rollback()
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing
    return job


def claim(db: Database, worker_id: str, limit: int = 10) -> list[Job]:
    """Take up to ``limit`` due jobs for this worker, in due order."""
    now = utcnow()
    with db.session(system=True) as session:
        query = (
            select(Job)
            .where(
                or_(
                    and_(Job.state == "pending", Job.due_at <= now),
                    and_(Job.state == "running", Job.locked_until < now),
                )
            )
            .order_by(Job.due_at)
            .limit(limit)
        )
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        jobs = list(session.scalars(query))
        for job in jobs:
            job.state = "running"
            job.locked_by = worker_id
            job.locked_until = now + LEASE
            job.attempts += 1
        return jobs


def heartbeat(db: Database, job: Job, lease: timedelta = LEASE) -> bool:
    """Extend a running job's lease, for a handler that works longer than one lease (a sweep
    between batches). False when the job is no longer this worker's (its lease ran out and
    another worker claimed it): the handler should stop rather than do the work twice. A lease
    that ran out unclaimed is still this worker's: a claim would have changed ``locked_by``."""
    now = utcnow()
    with db.session(system=True) as session:
        query = select(Job).where(Job.id == job.id)
        if db.is_postgres:
            query = query.with_for_update()
        row = session.scalar(query.execution_options(populate_existing=True))
        if row is None or row.state != "running" or row.locked_by != job.locked_by:
            return False
        row.locked_until = now + lease
        job.locked_until = row.locked_until
        return True


class LeaseLost(RuntimeError):
    """Raised by a handler whose job another worker took over."""


def beat_every(db: Database, job: Job, seconds: float = 30.0) -> Callable[[], None]:
    """A callable to call between batches: renews the lease at most every ``seconds`` and raises
    ``LeaseLost`` once the job belongs to another worker."""
    last = [time.monotonic()]

    def beat() -> None:
        if time.monotonic() - last[0] < seconds:
            return
        if not heartbeat(db, job):
            raise LeaseLost("the job's lease was lost")
        last[0] = time.monotonic()

    return beat


def _backoff(attempts: int) -> timedelta:
    base = min(3600.0, 5.0 * 2 ** (attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)


def run_one(db: Database, job: Job, worker_id: str) -> str:
    """Run a claimed job and record the outcome; returns the new state."""
    fn = HANDLERS.get(job.kind)
    result: dict[str, Any] | None = None
    error: str | None = None
    if fn is None:
        error = f"no handler for job kind '{job.kind}'"
    else:
        try:
            result = fn(db, job)
        except Exception as exc:
            error = _error(job, exc)
    with db.session(system=True) as session:
        return _finish(session, job, worker_id, result, error, final=fn is None)


def run_batch(db: Database, claimed: list[Job], worker_id: str) -> dict[str, str]:
    """Run claimed jobs of one kind through its batch handler; each job's outcome is recorded on
    its own row (done, retried with its own backoff, or failed after its own attempts), all in
    one commit. Returns the new state by job id."""
    if not claimed:
        return {}
    kind = claimed[0].kind
    if any(job.kind != kind for job in claimed):
        raise ValueError("a batch holds jobs of one kind")
    fn = BATCH_HANDLERS[kind]
    try:
        outcomes = fn(db, claimed)
    except Exception as exc:
        outcomes = {job.id: exc for job in claimed}
    states: dict[str, str] = {}
    with db.session(system=True) as session:
        # One read for every row; ``_finish`` then finds each in the session.
        session.scalars(select(Job).where(Job.id.in_([job.id for job in claimed]))).all()
        for job in claimed:
            outcome = outcomes.get(job.id)
            if isinstance(outcome, BaseException):
                states[job.id] = _finish(session, job, worker_id, None, _error(job, outcome))
            else:
                states[job.id] = _finish(session, job, worker_id, outcome, None)
    return states


def _error(job: Job, exc: BaseException) -> str:
    # The type only: messages from handlers may quote personal data.
    log.error(
        "job failed",
        extra={"job_id": job.id, "kind": job.kind},
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return type(exc).__name__


def _finish(
    session: PrivasiSession,
    job: Job,
    worker_id: str,
    result: dict[str, Any] | None,
    error: str | None,
    *,
    final: bool = False,
) -> str:
    row = session.get(Job, job.id)
    if row is None or row.locked_by != worker_id:
        return "lost"  # the lease ran out and another worker owns it now
    row.locked_by = None
    row.locked_until = None
    if error is None:
        row.state = "done"
        row.result = result
        row.finished_at = utcnow()
        row.last_error = None
    elif row.attempts >= row.max_attempts or final:
        row.state = "failed"
        row.last_error = error
        row.finished_at = utcnow()
    else:
        row.state = "pending"
        row.last_error = error
        row.due_at = utcnow() + _backoff(row.attempts)
    return row.state


def get_job(session: PrivasiSession, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("job not found")
    return job


def counts(session: PrivasiSession) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: int(n) for state, n in rows}
