"""Running rights tasks: a batch of requests' tasks (one organisation) in one session.

The worker hands every due ``rights.execute`` job it claimed to one call, so privasi's own
bookkeeping is shared by the batch: the tasks and their requests are locked in one query and
marked running in the same commit as every preparer's work (the ``sql`` connector looks up and
records every table's first batch of keys for all the batch's subjects, one statement per
table); then each task runs as before (its own transactions in the business's systems), and the
tasks whose work lives in the task itself (``deferred``: the connector's erasures and corrections)
are recorded done together at the end, with their audit events, in one commit. Other tasks
(privasi's own steps, which change privasi's store) commit with their audit event as they
finish, as a single request's run always did.

A failure stays the task's own: privasi's session goes back to its last commit, the finished
tasks' progress (kept in memory) is put back, and the task is marked failed while the others go
on. A deferred task's progress may be committed early (by another task's commit) but its status
stays ``running`` until its audit event is written with it, so a kill at any point leaves
nothing marked done without its event, and the retry replays at most the batches whose keys
were recorded (see ``privasi.connectors.sql``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.orgs.service import system_principal
from privasi.rights import actions
from privasi.rights import service as rights
from privasi.rights.locks import PREPARERS, lock_tasks, task_guard
from privasi.rights.models import RequestTask, RightsRequest
from privasi.rights.records import step_entry

log = logging.getLogger("privasi.rights")

Executor = Callable[[PrivasiSession, RightsRequest, RequestTask], None]
EXECUTORS: dict[str, Executor] = {}
# (kind, action) whose executor changes nothing in privasi's store but the task itself.
DEFERRED: set[tuple[str, str]] = set()


class TaskWaiting(RuntimeError):
    """An executor's work was accepted and its result comes later (a callback or a poll): the
    task shows as waiting, and the job is retried to look again."""


def executor(kind: str, *, deferred: tuple[str, ...] = ()) -> Callable[[Executor], Executor]:
    """Register automatic execution for tasks of a system kind (``sql``, ``http``). ``deferred``
    names the actions whose whole effect in privasi is the task's own result (no other row, no
    audit event): those are recorded done together at the end of a batch."""

    def register(fn: Executor) -> Executor:
        EXECUTORS[kind] = fn
        DEFERRED.update((kind, action) for action in deferred)
        return fn

    return register


PRIVASI_ACTIONS: dict[str, Executor] = {
    "access": actions.run_access,
    "erase": actions.run_erase,
    "rectify": actions.run_rectify,
    "notify_recipients": actions.run_notify_recipients,
    "restrict": actions.run_restrict,
    "object": actions.run_object,
    "withdraw_consent": actions.run_withdraw,
}

Group = tuple[RightsRequest, list[RequestTask]]


def run_batch(db: Database, org_id: str, work: dict[str, list[str]]) -> dict[str, list[str]]:
    """Run these tasks (by request id, all of ``org_id``) together. Returns, per request, the
    ids of its tasks that failed, wait (for a result or a legal hold), or run elsewhere."""
    expected = {task_id: request_id for request_id, ids in work.items() for task_id in ids}
    finished: set[str] = set()
    with task_guard(db, *expected) as mine:
        # Tasks another worker runs now are left to it; the job's retry will find them finished.
        if mine:
            with db.session(org_id) as session:
                _run_locked(session, org_id, expected, mine, finished)
    return {r: [t for t in ids if t not in finished] for r, ids in work.items()}


def _run_locked(
    session: PrivasiSession,
    org_id: str,
    expected: dict[str, str],
    mine: list[str],
    finished: set[str],
) -> None:
    groups = _start(session, mine, expected, finished)
    kinds = dict.fromkeys(t.kind for _, tasks in groups for t in tasks)
    for kind in kinds:
        prepare = PREPARERS.get(kind)
        if prepare is None:
            continue
        chosen = [(r, [t for t in tasks if t.kind == kind]) for r, tasks in groups]
        try:
            prepare(session, [(r, tasks) for r, tasks in chosen if tasks])
        except Exception:
            # Each task meets the problem again when it runs, and reports it.
            session.rollback()
            groups = _start(session, mine, expected, finished)
            break
    session.commit()
    run = _Run(session, org_id)
    for request, tasks in groups:
        for task in tasks:
            if run.task(request, task):
                finished.add(task.id)
    finished.update(run.record())


def _start(
    session: PrivasiSession, task_ids: list[str], expected: dict[str, str], finished: set[str]
) -> list[Group]:
    """The tasks to run now by request, marked running (uncommitted); ``finished`` gets those
    another worker finished while this one waited for the lock."""
    groups: dict[str, Group] = {}
    erasures = False
    for task, request in lock_tasks(session, task_ids):
        if expected.get(task.id) != request.id:
            raise NotFound("task not found")
        if task.status in ("done", "skipped"):
            finished.add(task.id)
            continue
        task.status = "running"
        task.attempts += 1
        groups.setdefault(request.id, (request, []))[1].append(task)
        erasures = erasures or request.type == "erasure"
    if erasures:
        from privasi.retention.service import erasure_held, holds

        # Before anything is prepared: a task whose data a legal hold keeps waits, showing the
        # hold's reason, and no keys of it are recorded while the hold lasts. One read of the
        # active holds for the batch; each task is only checked when there are some. (No
        # autoflush: the tasks' changes are written together at the commit.)
        with session.no_autoflush:
            if any(holds.held_sets(session)):
                for request, tasks in groups.values():
                    if request.type == "erasure":
                        tasks[:] = [t for t in tasks if not erasure_held(session, request, t)]
    return [g for g in groups.values() if g[1]]


@dataclass
class _Done:
    request: RightsRequest
    task: RequestTask
    result: dict[str, Any]


class _Run:
    """The run of a batch's tasks in one session; see the module docstring."""

    def __init__(self, session: PrivasiSession, org_id: str) -> None:
        self.session = session
        self.principal = system_principal(org_id, "rights")
        # Deferred tasks finished in this run (recorded at the end) and, for every task whose
        # state is only in memory, what to put back if the session must roll back.
        self.deferred: list[_Done] = []
        self.unsaved: dict[str, tuple[RequestTask, str, dict[str, Any]]] = {}

    def task(self, request: RightsRequest, task: RequestTask) -> bool:
        session = self.session
        try:
            run = PRIVASI_ACTIONS[task.action] if task.kind == "privasi" else EXECUTORS[task.kind]
            run(session, request, task)
        except TaskWaiting:
            self._restore(task, "waiting", None)
            return False
        except Exception as exc:
            log.warning(
                "rights task failed",
                extra={"request_id": request.id, "task_id": task.id, "error": type(exc).__name__},
            )
            self._restore(task, "failed", type(exc).__name__)
            return False
        if (task.kind, task.action) in DEFERRED:
            self.deferred.append(_Done(request, task, task.result or {}))
            self.unsaved[task.id] = (task, task.status, task.result or {})
            return True
        self._done(request, task)
        session.commit()
        self.unsaved.clear()  # everything in memory is committed now
        return True

    def _done(self, request: RightsRequest, task: RequestTask) -> None:
        _mark_done(task)
        rights.audit_step(
            self.session,
            self.principal,
            request,
            "request.task_done",
            system=task.system_id,
            task_action=task.action,
        )

    def _restore(self, failed: RequestTask, status: str, error: str | None) -> None:
        """Back to the last commit (the failed task's unsaved progress is in doubt), with the
        other tasks' finished work put back, and the failed task marked."""
        session = self.session
        session.rollback()
        for task, was, result in self.unsaved.values():
            task.status, task.result = was, result
        if failed.status != "done":
            failed.status = status
            if error is not None:
                failed.result = {**(failed.result or {}), "error": error}
        session.commit()
        self.unsaved.clear()

    def record(self) -> list[str]:
        """The deferred tasks marked done, each with its audit event, in one commit."""
        for done in self.deferred:
            done.task.result = done.result
            _mark_done(done.task)
        # One flush writes every task's row (the ORM groups them into one statement); each
        # audit event would otherwise flush the task before it alone.
        self.session.flush()
        events = [
            step_entry(
                d.request, "request.task_done", system=d.task.system_id, task_action=d.task.action
            )
            for d in self.deferred
        ]
        # the chain's head locked and moved once for the whole batch (same events, same order)
        audit.record_many(self.session, self.principal, events)
        self.session.commit()
        return [d.task.id for d in self.deferred]


def _mark_done(task: RequestTask) -> None:
    task.status = "done"
    task.completed_at = utcnow()
    task.completed_by = "privasi"
