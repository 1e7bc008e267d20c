"""Processor mode: an end user's request that reached the processor goes to the Business User
that controls the data (UU PDP Pasal 51; seeds 002 and 004), with its original receipt time.

1. ``route``: the processor names the Business User by slug (never found by searching
   identifiers across organisations, which would tell who exists where). It needs an active
   hosting grant from that Business User that includes ``requests.manage``. The new request is
   recorded in the controller's organisation, held until the controller approves, and the
   controller's owners and DPOs are e-mailed and its webhook (the secret ``requests_webhook_url``)
   called through the outbox. The processor's own request is closed with a pointer to it.
2. ``approve``: the controller's staff, having verified the requester, approve. The hold is
   lifted, the controller's request gets a task for the processor's part, and the processor's
   part is recorded in the processor's organisation, verified on the controller's word, and run
   on the processor's own systems (its policy's data map).
3. The worker's ``processor-parts`` reconciler sees a finished part and the
   ``rights.processor_report`` job reports it back: the controller's task is done with what the
   processor did and kept, and the controller's request carries on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Forbidden, InvalidTransition, NotFound
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal, system_principal
from privasi.rights import execution, lifecycle
from privasi.rights import service as rights
from privasi.rights.models import RequestTask, RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.secrets import get_secret, has_secret
from privasi.worker import reconciler

NEEDED = "requests.manage"
WEBHOOK_SECRET = "requests_webhook_url"
TEMPLATE = "rights_routed_in"
REPORT_KIND = "rights.processor_report"
TASK_KIND = "processor"
# Execution of a routed request waits on ``not_before`` until the controller approves: the one
# field every path to execution (``execution.ready`` and ``schedule``) already respects.
HOLD = datetime(9999, 1, 1, tzinfo=UTC)


def _controller_principal(db: Database, principal: Principal, controller_slug: str) -> Principal:
    with db.session(system=True) as system:
        target = orgs.find_org_by_slug(system, controller_slug)
        if target is None or target.id == principal.org_id:
            raise NotFound("organisation not found")
        grant = orgs.active_grant(system, principal.org_id, target.id)
        if grant is None:
            raise NotFound("organisation not found")
        if NEEDED not in grant.actions:
            raise Forbidden(f"the hosting grant of {controller_slug} does not include '{NEEDED}'")
        return Principal(
            org_id=target.id,
            actor_type=principal.actor_type,
            actor_id=principal.actor_id,
            permissions=principal.permissions & frozenset(grant.actions),
            home_org_id=principal.home_org_id,
            grant_id=grant.id,
            request_id=principal.request_id,
            client_addr=principal.client_addr,
        )


def _tell_controller(session: PrivasiSession, request: RightsRequest, processor: str) -> int:
    """E-mail the controller's owners and DPOs and call its webhook, through the outbox."""
    params = {
        "number": rights.display_number(request),
        "type_name": rights.type_name(request.type, "id"),
        "processor": processor,
        "due": request.due_at.isoformat(),
    }
    sent = 0
    for staff in orgs.list_staff(session):
        if staff.active and staff.role in ("owner", "dpo"):
            notify.enqueue(
                session,
                channel="email",
                template=TEMPLATE,
                lang="id",
                params=params,
                to=staff.email,
                dedupe_key=f"rights.routed:{request.id}:{staff.id}",
            )
            sent += 1
    if has_secret(session, WEBHOOK_SECRET):
        notify.enqueue(
            session,
            channel="webhook",
            template=TEMPLATE,
            lang="en",
            params={**params, "type_name": rights.type_name(request.type, "en")},
            to=get_secret(session, WEBHOOK_SECRET).strip(),
            dedupe_key=f"rights.routed:{request.id}:webhook",
        )
        sent += 1
    return sent


def route(
    db: Database, principal: Principal, request_id: str, controller_slug: str
) -> dict[str, Any]:
    """Record the request in the controller's organisation, held for its approval; close it here."""
    principal.require(NEEDED)
    as_controller = _controller_principal(db, principal, controller_slug)
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        if request.status not in ("received", "verifying", "awaiting_requester"):
            raise InvalidTransition(f"{rights.display_number(request)} is {request.status}")
        details = rights.details_of(session, request)
        identifiers = details.pop("identifiers", None) or {}
        if request.subject_id is not None:
            held = subjects.identifiers(session, subjects.get_subject(session, request.subject_id))
            identifiers = {kind: values[-1] for kind, values in held.items() if values}
        details.pop("requester_note", None)
        type_, channel, lang = request.type, request.channel, request.lang
        received_at = request.received_at
        number = rights.display_number(request)
        processor = orgs.get_org(session, principal.org_id)
        processor_slug, processor_name = processor.slug, processor.name
    with db.session(as_controller.org_id) as controller:
        routed = rights.submit(
            controller,
            as_controller,
            type=type_,
            channel=channel,
            identifiers=identifiers or None,
            requester_kind="subject",
            details=details or None,
            lang=lang,
            received_at=received_at,
        )
        routed.not_before = HOLD
        routed.outcome = {
            **(routed.outcome or {}),
            "routed_from": {"org": processor_slug, "number": number, "request_id": request_id},
            "approval": "pending",
        }
        controller.flush()
        rights.audit_step(
            controller,
            as_controller,
            routed,
            "request.routed_in",
            from_org=principal.org_id,
            from_number=number,
        )
        _tell_controller(controller, routed, processor_name)
        routed_number = rights.display_number(routed)
        routed_id = routed.id
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        lifecycle.close_as_routed(session, principal, request, controller_slug, routed_number)
    return {"org": controller_slug, "id": routed_id, "number": routed_number}


def awaiting_approval(request: RightsRequest) -> bool:
    return (request.outcome or {}).get("approval") == "pending"


def approve(db: Database, principal: Principal, request_id: str) -> dict[str, Any]:
    """The controller approves a routed request: its own systems run, and the processor's part
    is recorded and run in the processor's organisation. Approving twice changes nothing."""
    principal.require("requests.approve")
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        origin = (request.outcome or {}).get("routed_from")
        if not origin:
            raise InvalidTransition("only a request routed in by a processor waits for this")
        if not awaiting_approval(request):
            return _summary(session, request)
        rights.require_open(request, "approved")
        if request.verified_at is None or request.subject_id is None:
            raise InvalidTransition("verify the requester's identity first")
        held = subjects.identifiers(session, subjects.get_subject(session, request.subject_id))
        identifiers = {kind: values[-1] for kind, values in held.items() if values}
        details = rights.details_of(session, request)
        controller = orgs.get_org(session, principal.org_id)
        facts = {
            "type": request.type,
            "lang": request.lang,
            "received_at": request.received_at,
            "number": rights.display_number(request),
            "controller": controller.slug,
            "request_id": request.id,
        }
    with db.session(system=True) as system:
        processor = orgs.find_org_by_slug(system, str(origin["org"]))
        if processor is None or orgs.active_grant(system, processor.id, principal.org_id) is None:
            raise Forbidden("the processor no longer holds a hosting grant from you")
        processor_id, processor_name = processor.id, processor.name
    part_id = _record_part(db, processor_id, facts, identifiers, details)
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        execution.plan(session, request)
        session.add(
            RequestTask(
                request_id=request.id,
                system_id=f"processor:{origin['org']}"[:64],
                kind=TASK_KIND,
                action=execution.ACTIONS[request.type],
                due_at=request.due_at,
                result={
                    "name": processor_name,
                    "part": {"org_id": processor_id, "request_id": part_id},
                },
            )
        )
        request.outcome = {
            **(request.outcome or {}),
            "approval": "approved",
            "approved_by": principal.actor[:100],
        }
        request.not_before = None
        request.approved_at = request.approved_at or utcnow()
        session.flush()
        rights.audit_step(session, principal, request, "request.routed_approved")
        execution.schedule(session, request, stage="routed-approved")
        return _summary(session, request)


def _record_part(
    db: Database,
    processor_id: str,
    facts: dict[str, Any],
    identifiers: dict[str, str],
    details: dict[str, Any],
) -> str:
    """The processor's part, as a request in its own organisation (its own systems, deadline
    and evidence), verified on the controller's word."""
    principal = system_principal(processor_id, "processor-mode")
    with db.session(processor_id) as session:
        subject = subjects.find_existing(session, identifiers) if identifiers else None
        if subject is None and identifiers:
            # The processor holds this end user's data for the controller: a record to act on.
            subject = subjects.find_or_create(session, principal, identifiers)
        part = rights.submit(
            session,
            principal,
            type=facts["type"],
            channel="api",
            subject_id=subject.id if subject else None,
            identifiers=None if subject else identifiers or None,
            details={k: v for k, v in details.items() if k != "requester_note"} or None,
            lang=facts["lang"],
            received_at=facts["received_at"],
        )
        part.outcome = {
            **(part.outcome or {}),
            "part_of": {
                "org": facts["controller"],
                "number": facts["number"],
                "request_id": facts["request_id"],
            },
        }
        session.flush()
        rights.audit_step(
            session, principal, part, "request.processor_part", for_org=facts["controller"]
        )
        if part.subject_id is not None:
            rights.mark_verified(
                session,
                principal,
                part,
                "staff_review",
                f"verified and approved by the controller {facts['controller']} "
                f"({facts['number']})",
            )
            if part.type == "rectification":
                rights.approve(session, principal, part)
        return part.id


def _summary(session: PrivasiSession, request: RightsRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "number": rights.display_number(request),
        "approval": (request.outcome or {}).get("approval"),
        "tasks": {t.system_id: t.status for t in rights.tasks_of(session, request)},
    }


@reconciler("processor-parts")
def _finished_parts(system: PrivasiSession) -> int:
    """Queue a report for each controller task whose processor part has finished."""
    queued = 0
    waiting = system.scalars(
        select(RequestTask).where(RequestTask.kind == TASK_KIND, RequestTask.status == "pending")
    )
    for task in list(waiting):
        part = (task.result or {}).get("part") or {}
        status = system.scalar(
            select(RightsRequest.status).where(RightsRequest.id == part.get("request_id"))
        )
        if status in ("completed", "denied", "cancelled"):
            jobs.enqueue(
                system,
                REPORT_KIND,
                {"task_id": task.id},
                org_id=task.org_id,
                dedupe_key=f"{REPORT_KIND}:{task.id}",
            )
            queued += 1
    return queued


def report(db: Database, task_id: str) -> str:
    """Report the processor's finished part back to the controller's request (idempotent)."""
    with db.session(system=True) as system:
        task = system.get(RequestTask, task_id)
        if task is None or task.kind != TASK_KIND:
            raise NotFound("task not found")
        controller_id = task.org_id
        part_ref = (task.result or {}).get("part") or {}
    with db.session(str(part_ref["org_id"])) as session:
        part = rights.get_request(session, str(part_ref["request_id"]))
        outcome = dict(part.outcome or {})
        status = part.status
        summary = {
            "status": status,
            "number": rights.display_number(part),
            "done": outcome.get("done", []),
            "denial_ground": part.denial_ground,
        }
    if status not in ("completed", "denied", "cancelled"):
        return "waiting"
    with db.session(controller_id) as session:
        task = execution.lock_task(session, task_id)
        if task.status in ("done", "skipped"):
            return task.status
        task.result = {**(task.result or {}), "reported": summary}
        request = rights.get_request(session, task.request_id)
        by = system_principal(controller_id, "processor-mode")
        note = None if status == "completed" else f"the processor's part was {status}"
        execution.complete_task(
            session,
            by,
            request,
            task_id,
            status="done" if status == "completed" else "skipped",
            note=note,
            kept=outcome.get("kept", []),
        )
        return task.status


@jobs.handler(REPORT_KIND)
def _report_job(db: Database, job: Job) -> dict[str, Any]:
    return {"status": report(db, job.payload["task_id"])}
