"""Locks that keep two workers off the same rights task, and the preparers' registry.

Split from ``execution`` (which re-exports these names) so the run loop stays readable; nothing
here knows about executors or the plan.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, select, text

from privasi.db import Database, PrivasiSession
from privasi.errors import NotFound
from privasi.rights.models import RequestTask, RightsRequest


def lock_task(session: PrivasiSession, task_id: str) -> RequestTask:
    """The task row, locked (PostgreSQL) so two workers never run the same step together."""
    task = session.scalar(
        select(RequestTask)
        .where(RequestTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound("task not found")
    return task


# Built once (building it costs about as much as running it); locked in id order, so two runs
# wanting the same tasks never wait for each other in a circle.
_LOCK_TASKS = (
    select(RequestTask, RightsRequest)
    .join(RightsRequest, RightsRequest.id == RequestTask.request_id)
    .where(RequestTask.id.in_(bindparam("ids", expanding=True)))
    .order_by(RequestTask.id)
    .with_for_update(of=RequestTask)
    .execution_options(populate_existing=True)
)


def lock_tasks(
    session: PrivasiSession, task_ids: list[str]
) -> list[tuple[RequestTask, RightsRequest]]:
    """Tasks of any requests of the session's organisation, locked as ``lock_task`` does, each
    with its request, in one query, in the order of ``task_ids``."""
    rows = session.execute(_LOCK_TASKS, {"ids": list(task_ids)}).all()
    if len(rows) != len(set(task_ids)):
        raise NotFound("task not found")
    order = {t: i for i, t in enumerate(task_ids)}
    return sorted(((r[0], r[1]) for r in rows), key=lambda pair: order[pair[0].id])


_running: set[str] = set()
_running_lock = threading.Lock()


_TRY_LOCK = text("SELECT k, pg_try_advisory_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
_UNLOCK = text("SELECT pg_advisory_unlock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _advisory_key(task_id: str) -> int:
    digest = hashlib.sha256(f"privasi:rights-task:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def task_guard(db: Database, *task_ids: str) -> Iterator[list[str]]:
    """The tasks this caller may run now (the others run elsewhere), held for the whole run.

    On PostgreSQL the tasks' row locks (``lock_task``) end at every commit, and an executor
    commits after each batch's keys, so a second worker (a second job for the request, or a job
    whose lease ran out) could take a task between two batches and count rows twice. A
    session-level advisory lock per task, on a connection of its own that commits nothing, lasts
    across those commits until the run ends (or the connection dies with the process).

    On SQLite the database is privasi's one-process setup (``privasi serve`` with its worker in
    the same process, which runs jobs one after another); there is no row lock to lose between
    commits, and a lock in this process keeps two threads (a worker and a staff action) from
    running the same task together. Several processes on one SQLite file are not supported.
    """
    if db.is_postgres:
        keys = {_advisory_key(t): t for t in task_ids}
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = conn.execute(_TRY_LOCK, {"keys": list(keys)})
            got = [int(key) for key, mine in rows if mine]
            try:
                yield [t for k, t in keys.items() if k in got]
            finally:
                try:
                    if got:
                        conn.execute(_UNLOCK, {"keys": got})
                except Exception:
                    conn.invalidate()  # never back to the pool with the locks still held
                    raise
        return
    with _running_lock:
        held = [t for t in dict.fromkeys(task_ids) if t not in _running]
        _running.update(held)
    try:
        yield held
    finally:
        with _running_lock:
            _running.difference_update(held)


Preparer = Callable[[PrivasiSession, list[tuple[RightsRequest, list[RequestTask]]]], None]
PREPARERS: dict[str, Preparer] = {}


def preparer(kind: str) -> Callable[[Preparer], Preparer]:
    """Register work an executor kind does once for all the tasks of that kind of a batch of
    requests (one organisation) before they run, recorded in the tasks (the connectors look up
    and record every table's first batch of keys for all the batch's subjects, so one commit
    covers them all). Called with each request and its tasks of that kind."""

    def register(fn: Preparer) -> Preparer:
        PREPARERS[kind] = fn
        return fn

    return register
