"""The execution plan: one task per system of the policy's data map, run idempotently.

privasi's own store is acted on here; every other system gets a task that staff complete (a
checklist item with its own due time) until an executor for its kind is registered in
``EXECUTORS`` (the connectors add ``sql`` and ``http``). A task records each finished step in
its ``result`` in the same transaction as the step itself, so a process that stops half-way
resumes where it stopped and does nothing twice (``rights.execute`` jobs retry it). A request's
tasks run together in one session (``runner.run_batch``) under ``task_guard``, which keeps any other
worker off them until the run ends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from privasi.db import Database, PrivasiSession, new_id, utcnow
from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.orgs.service import Principal, system_principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy
from privasi.rights import actions
from privasi.rights import service as rights
from privasi.rights.locks import (  # noqa: F401  (re-exported: connectors and routing use them)
    _advisory_key,
    lock_task,
    preparer,
    task_guard,
)
from privasi.rights.models import OPEN_STATUSES, RequestTask, RightsRequest
from privasi.rights.runner import (  # noqa: F401  (re-exported: the connectors register here)
    EXECUTORS,
    TaskWaiting,
    executor,
    run_batch,
)
from privasi.subjects import service as subjects

log = logging.getLogger("privasi.rights")
EXECUTE_KIND = "rights.execute"
PRIVASI_SYSTEM = "privasi"
# What privasi does in its own store per request type, and what staff do in other systems.
ACTIONS = {
    "access": "access",
    "portability": "access",
    "rectification": "rectify",
    "erasure": "erase",
    "restriction": "restrict",
    "objection": "object",
    "withdraw_consent": "withdraw_consent",
    "automated_decision_objection": "object",
}
# Manual tasks are due before the request, leaving time to answer: this share of the clock.
MANUAL_SHARE = 2 / 3


def _privasi_system(policy: Policy) -> str:
    return next((s.id for s in policy.systems if s.kind.value == "privasi"), PRIVASI_SYSTEM)


def _reason(rule: Any) -> dict[str, str] | None:
    text = rule.reason or rule.description
    return text.model_dump() if text is not None else None


def kept_for(policy: Policy, categories: list[str]) -> list[dict[str, Any]]:
    """Data an erasure must keep: categories under a retention rule with a legal-obligation or
    legal-hold exception, with the rule's reason and how long it is kept."""
    kept: dict[str, dict[str, Any]] = {}
    for category in categories:
        for rule in policy.retention_for(category=category):
            if not rule.exceptions:
                continue
            entry = kept.setdefault(
                rule.id,
                {
                    "rule": rule.id,
                    "categories": [],
                    "grounds": sorted(e.value for e in rule.exceptions),
                    "reason": _reason(rule),
                    "period": rule.period.iso(),
                    "start": rule.start.value,
                },
            )
            if category not in entry["categories"]:
                entry["categories"].append(category)
    return list(kept.values())


def plan(session: PrivasiSession, request: RightsRequest) -> list[RequestTask]:
    """The tasks of a request (made once; later calls return the same tasks)."""
    existing = rights.tasks_of(session, request)
    if existing:
        return existing
    policy = policies.current_policy(session)
    action = ACTIONS[request.type]
    manual_due = request.received_at + (request.due_at - request.received_at) * MANUAL_SHARE
    tasks = [
        RequestTask(
            request_id=request.id,
            system_id=_privasi_system(policy),
            kind="privasi",
            action=action,
            due_at=request.due_at,
            result={},
        )
    ]
    if request.type == "rectification":
        tasks.append(
            RequestTask(
                request_id=request.id,
                system_id="recipients",
                kind="privasi",
                action="notify_recipients",
                due_at=request.due_at,
                result={},
            )
        )
    for system in policy.systems:
        if system.kind.value == "privasi":
            continue
        categories = system.all_categories()
        result: dict[str, Any] = {"categories": categories, "name": system.name}
        if system.instructions is not None:
            result["instructions"] = system.instructions.model_dump()
        if request.type == "erasure":
            result["keep"] = kept_for(policy, categories)
        tasks.append(
            RequestTask(
                request_id=request.id,
                system_id=system.id,
                kind=system.kind.value,
                action=action,
                due_at=manual_due,
                result=result,
            )
        )
    session.add_all(tasks)
    session.flush()
    rights.audit_step(
        session,
        system_principal(request.org_id, "rights"),
        request,
        "request.planned",
        systems=[t.system_id for t in tasks],
    )
    return rights.tasks_of(session, request)


def _cancel_window(session: PrivasiSession) -> timedelta:
    from privasi.vault.service import vault_for

    settings = getattr(vault_for(session), "_settings", None)
    hours = getattr(settings, "rights_erasure_cancel_hours", 0) or 0
    return timedelta(hours=float(hours))


def schedule(
    session: PrivasiSession, request: RightsRequest, stage: str | None = None
) -> Job | None:
    """Queue ``rights.execute``; an erasure waits out the cancellation window first."""
    if request.type == "rectification" and request.approved_at is None:
        return None
    now = utcnow()
    if request.type == "erasure" and request.not_before is None:
        window = _cancel_window(session)
        if window:
            request.not_before = (request.verified_at or now) + window
            session.flush()
    due = max(now, request.not_before or now)
    stage = stage or ("approved" if request.approved_at else "verified")
    return jobs.enqueue(
        session,
        EXECUTE_KIND,
        {"request_id": request.id},
        org_id=request.org_id,
        due_at=due,
        dedupe_key=f"{EXECUTE_KIND}:{request.id}:{stage}",
    )


def retry(session: PrivasiSession, principal: Principal, request: RightsRequest) -> Job | None:
    """Queue the request's automatic tasks again, failed ones included."""
    if not ready(request, utcnow()):
        raise InvalidTransition(
            "the request is not ready to run (closed, unverified or unapproved)"
        )
    rights.audit_step(session, principal, request, "request.retried")
    return schedule(session, request, stage=f"retry:{new_id()}")


def ready(request: RightsRequest, now: datetime) -> bool:
    if request.status not in OPEN_STATUSES or request.verified_at is None:
        return False
    if request.type == "rectification" and request.approved_at is None:
        return False
    return request.not_before is None or now >= request.not_before


def _automatic(task: RequestTask) -> bool:
    return task.kind == "privasi" or task.kind in EXECUTORS


def _unfinished(task: RequestTask) -> bool:
    return task.status in ("pending", "running", "waiting", "failed")


def waits_for_systems(request: RightsRequest, task: RequestTask, tasks: list[RequestTask]) -> bool:
    """privasi's erasure runs last: staff need the person's identifiers to find them in the
    other systems, and the key is shredded only once every system has been dealt with."""
    return (
        request.type == "erasure"
        and task.kind == "privasi"
        and any(t.kind != "privasi" and _unfinished(t) for t in tasks)
    )


def run_tasks(db: Database, request_id: str) -> dict[str, str]:
    """Run every automatic task of the request that is not finished; idempotent and resumable.
    Returns the status of each task by system id. Raises when a task failed, so the job retries."""
    outcome = run_many(db, [request_id])[request_id]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


Outcome = dict[str, str] | BaseException


def run_many(db: Database, request_ids: list[str]) -> dict[str, Outcome]:
    """``run_tasks`` for many requests at once (the worker's batch of due jobs): the requests of
    each organisation run together (``runner.run_batch``), each organisation in its own scope,
    never mixing sessions or keys across tenants. Returns each request's statuses, or the error
    its job should retry on; one request's failure never stops the others."""
    ids = list(dict.fromkeys(request_ids))
    with db.session(system=True) as system:
        found = system.execute(
            select(RightsRequest.id, RightsRequest.org_id).where(RightsRequest.id.in_(ids))
        ).all()
    org_of = {str(rid): str(org) for rid, org in found}
    out: dict[str, Outcome] = {
        rid: NotFound("rights request not found") for rid in ids if rid not in org_of
    }
    by_org: dict[str, list[str]] = {}
    for rid in ids:
        if rid in org_of:
            by_org.setdefault(org_of[rid], []).append(rid)
    for org_id, rids in by_org.items():
        try:
            out.update(_run_requests(db, org_id, rids))
        except Exception:
            if len(rids) == 1:
                raise
            # Something outside any one task (a plan that cannot be made, a lost connection):
            # each request again on its own, so the problem stays with the request that has it.
            log.warning("rights batch failed; running its requests one by one")
            for rid in rids:
                try:
                    out.update(_run_requests(db, org_id, [rid]))
                except Exception as exc:
                    out[rid] = exc
    return out


def _loaded(
    session: PrivasiSession, request_ids: list[str]
) -> list[tuple[RightsRequest, list[RequestTask]]]:
    """The requests with their tasks (in ``tasks_of`` order), two queries for all."""
    requests = {
        r.id: r
        for r in session.scalars(select(RightsRequest).where(RightsRequest.id.in_(request_ids)))
    }
    tasks: dict[str, list[RequestTask]] = {rid: [] for rid in requests}
    for task in session.scalars(
        select(RequestTask)
        .where(RequestTask.request_id.in_(list(requests)))
        .order_by(RequestTask.kind != "privasi", RequestTask.system_id, RequestTask.action)
    ):
        tasks[task.request_id].append(task)
    missing = [rid for rid in request_ids if rid not in requests]
    if missing:
        raise NotFound("rights request not found")
    return [(requests[rid], tasks[rid]) for rid in request_ids]


def _run_requests(db: Database, org_id: str, request_ids: list[str]) -> dict[str, Outcome]:
    failed: dict[str, list[str]] = {rid: [] for rid in request_ids}
    statuses: dict[str, dict[str, str]] = {}
    active = list(request_ids)
    # Other systems' automatic tasks first, then privasi's own (an erasure's shred comes last).
    for phase in ("systems", "privasi"):
        work: dict[str, list[str]] = {}
        with db.session(org_id) as session:
            for request, tasks in _loaded(session, active):
                if not ready(request, utcnow()):
                    statuses[request.id] = {t.system_id: t.status for t in tasks}
                    continue
                tasks = tasks or plan(session, request)
                todo = [
                    t.id
                    for t in tasks
                    if _unfinished(t)
                    and _automatic(t)
                    and (t.kind == "privasi") == (phase == "privasi")
                    and not waits_for_systems(request, t, tasks)
                ]
                if todo:
                    work[request.id] = todo
        active = [rid for rid in active if rid not in statuses]
        if work:
            for rid, left in run_batch(db, org_id, work).items():
                failed[rid].extend(left)
    with db.session(org_id) as session:
        for request, tasks in _loaded(session, active):
            if (
                request.status in OPEN_STATUSES
                and tasks
                and all(t.status in ("done", "skipped") for t in tasks)
            ):
                rights.complete(session, system_principal(org_id, "rights"), request)
            statuses[request.id] = {t.system_id: t.status for t in tasks}
    return {
        rid: (
            RuntimeError(f"{len(failed[rid])} rights task(s) failed or wait for a result; retried")
            if failed[rid]
            else statuses[rid]
        )
        for rid in request_ids
    }


def _run_one(db: Database, org_id: str, request_id: str, task_id: str) -> bool:
    """Run one task of a request (``run_batch``); False when it failed, waits or runs elsewhere."""
    return not run_batch(db, org_id, {request_id: [task_id]})[request_id]


def complete_task(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    task_id: str,
    *,
    status: str = "done",
    note: str | None = None,
    kept: list[dict[str, Any]] | None = None,
) -> RequestTask:
    """Staff tick off a checklist task (done, or skipped with a note saying why)."""
    if status not in ("done", "skipped"):
        raise ValidationFailed("status is done or skipped", field="status")
    if status == "skipped" and not (note or "").strip():
        raise ValidationFailed("say why the task is skipped", field="note")
    if request.status not in OPEN_STATUSES:
        raise InvalidTransition(f"the request is {request.status}")
    if request.verified_at is None:
        raise InvalidTransition("verify the requester's identity first")
    task = session.get(RequestTask, task_id)
    if task is None or task.request_id != request.id:
        raise NotFound("task not found")
    if task.kind == "privasi" or (task.kind in EXECUTORS and task.status != "failed"):
        # An automatic task that failed (a missing credential, a system that is gone) may be done
        # by hand, with a note, so one broken connection never blocks the request's deadline.
        raise InvalidTransition("this task runs automatically; it cannot be ticked off by hand")
    if task.kind in EXECUTORS and not (note or "").strip():
        raise ValidationFailed("say what was done by hand instead", field="note")
    if task.status in ("done", "skipped"):
        return task
    task.status = status
    task.note = rights.seal_note(session, request.org_id, f"task:{task.id}", (note or "")[:2000])
    task.completed_at = utcnow()
    task.completed_by = principal.actor[:100]
    if kept is not None:
        task.result = {**(task.result or {}), "kept": kept}
    elif request.type == "erasure" and (task.result or {}).get("keep"):
        task.result = {**(task.result or {}), "kept": task.result["keep"]}
    session.flush()
    rights.audit_step(
        session,
        principal,
        request,
        "request.task_done" if status == "done" else "request.task_skipped",
        system=task.system_id,
        task_action=task.action,
    )
    tasks = rights.tasks_of(session, request)
    if all(t.status in ("done", "skipped") for t in tasks):
        rights.complete(session, principal, request)
    elif not any(t.kind != "privasi" and _unfinished(t) for t in tasks):
        # The last system is done: privasi's own steps (an erasure's shred) may run now.
        schedule(session, request, stage="systems-done")
    return task


def diff(session: PrivasiSession, request: RightsRequest) -> list[dict[str, Any]]:
    """A rectification's changes beside the values privasi holds now, for staff to review."""
    if request.type != "rectification":
        raise InvalidTransition("only a rectification has changes to review")
    changes = rights.details_of(session, request).get("changes", {})
    held: dict[str, list[str]] = {}
    if request.subject_id is not None:
        held = subjects.identifiers(session, subjects.get_subject(session, request.subject_id))
    policy = policies.current_policy(session)
    others = [s.id for s in policy.systems if s.kind.value != "privasi"]
    return [
        {
            "field": field,
            "current": held.get(field),
            "requested": value,
            "applied_in_privasi": field in actions.RECTIFIABLE,
            "other_systems": others,
        }
        for field, value in sorted(changes.items())
    ]


@jobs.handler(EXECUTE_KIND)
def _execute(db: Database, job: Job) -> dict[str, Any]:
    return run_tasks(db, job.payload["request_id"])


@jobs.batch_handler(EXECUTE_KIND)
def _execute_many(db: Database, claimed: list[Job]) -> dict[str, jobs.Outcome]:
    outcomes = run_many(db, [job.payload["request_id"] for job in claimed])
    return {job.id: outcomes[job.payload["request_id"]] for job in claimed}
