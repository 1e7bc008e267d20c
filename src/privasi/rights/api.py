"""HTTP routes of rights requests. Thin: the rules live in the rights services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from privasi.consent import verification
from privasi.db import utcnow
from privasi.errors import Locked
from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.rights import actions, deadlines, execution, identity, lifecycle, schemas
from privasi.rights import service as rights
from privasi.rights.models import RequestTask, RightsRequest

router = APIRouter(prefix="/api/v1/requests", tags=["rights requests"])


def _out(ctx: Ctx, request: RightsRequest) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": request.id,
        "number": rights.display_number(request),
        "type": request.type,
        "status": request.status,
        "subject_id": request.subject_id,
        "channel": request.channel,
        "requester_kind": request.requester_kind,
        "requester_subject_id": request.requester_subject_id,
        "received_at": request.received_at,
        "due_at": request.due_at,
        "due_at_local": deadlines.local_time(ctx.session, request.due_at),
        "deadline_basis": request.deadline_basis,
        "time_left_seconds": deadlines.time_left(request, now),
        "share_used": round(deadlines.share_used(request, now), 2),
        "overdue": deadlines.is_overdue(request, now),
        "waiting_seconds": deadlines.waiting_seconds(request, now),
        "verified_at": request.verified_at,
        "verification_method": request.verification_method,
        "approved_at": request.approved_at,
        "completed_at": request.completed_at,
        "assigned_to": request.assigned_to,
        "denial_ground": request.denial_ground,
        "outcome": request.outcome or {},
        "lang": request.lang,
    }


def _task(ctx: Ctx, task: RequestTask) -> schemas.TaskOut:
    out = schemas.TaskOut.model_validate(task)
    out.note = rights.open_note(ctx.session, task.org_id, f"task:{task.id}", task.note)
    return out


def _detail(ctx: Ctx, request: RightsRequest) -> schemas.RequestDetail:
    details = rights.details_of(ctx.session, request)
    return schemas.RequestDetail(
        **_out(ctx, request),
        requester_note=details.get("requester_note"),
        identifiers_given=details.get("identifiers"),
        verification_note=rights.open_note(
            ctx.session, request.org_id, f"{request.id}:verification", request.verification_note
        ),
        denial_note=rights.open_note(
            ctx.session, request.org_id, f"{request.id}:closing", request.denial_note
        ),
        not_before=request.not_before,
        tasks=[_task(ctx, t) for t in rights.tasks_of(ctx.session, request)],
    )


@router.post("", response_model=schemas.RequestCreated, status_code=201)
def submit(body: schemas.RequestIn, ctx: Ctx = ctx_for("requests.manage")) -> JSONResponse:
    """Record a request for a subject (the clock starts now, or at ``received_at``)."""

    def produce() -> tuple[int, object]:
        request = rights.submit(
            ctx.session,
            ctx.principal,
            type=body.type,
            channel=body.channel,
            identifiers=body.identifiers,
            subject_id=body.subject_id,
            requester_kind=body.requester_kind,
            requester_note=body.requester_note,
            requester_subject_id=body.requester_subject_id,
            details=body.details,
            lang=body.lang,
            received_at=body.received_at,
        )
        if body.session_token:
            identity.verify_session_token(ctx.session, ctx.principal, request, body.session_token)
        token = rights.status_token(ctx.session, request)
        return 201, schemas.RequestCreated(**_out(ctx, request), status_token=token)

    def with_token(replayed: dict[str, Any]) -> dict[str, Any]:
        request = rights.get_request(ctx.session, replayed["id"])
        return {**replayed, "status_token": rights.status_token(ctx.session, request)}

    # The token opens the requester's status page: the stored answer goes without it, and a replay
    # gets it back from the request, where it is kept sealed.
    return run_idempotent(ctx, body, produce, shown_once=("status_token",), on_replay=with_token)


@router.get("", response_model=schemas.RequestPage)
def list_requests(
    status: str | None = None,
    order: str = Query("time_left", pattern="^(time_left|newest)$"),
    open_only: bool = Query(False, alias="open"),
    overdue: bool | None = None,
    subject_id: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    ctx: Ctx = ctx_for("requests.read"),
) -> object:
    """Requests by time left (soonest due first), as the dashboard shows them."""
    page = rights.list_requests(
        ctx.session,
        status=status,
        order=order,
        limit=limit,
        cursor=cursor,
        open_only=open_only,
        overdue=overdue,
        subject_id=subject_id,
    )
    return schemas.RequestPage(
        items=[schemas.RequestOut(**_out(ctx, r)) for r in page.items],
        next_cursor=page.next_cursor,
        counts=rights.counts(ctx.session),
    )


@router.post("/suppression-check", response_model=schemas.SuppressionOut)
def suppression_check(body: schemas.SuppressionIn, ctx: Ctx = ctx_for("requests.read")) -> object:
    """Whether an identifier belonged to someone erased (never contact them for marketing)."""
    return {"suppressed": actions.is_suppressed(ctx.session, body.kind, body.value)}


@router.get("/{request_id}", response_model=schemas.RequestDetail)
def get_request(request_id: str, ctx: Ctx = ctx_for("requests.read")) -> object:
    return _detail(ctx, rights.get_request(ctx.session, request_id))


@router.get("/{request_id}/evidence")
def evidence(request_id: str, ctx: Ctx = ctx_for("requests.read")) -> object:
    return rights.evidence(ctx.session, rights.get_request(ctx.session, request_id))


@router.post("/{request_id}/verification/code", response_model=schemas.CodeSent)
def send_code(
    request_id: str, body: schemas.CodeIn, ctx: Ctx = ctx_for("requests.manage")
) -> object:
    """Send a 6-digit code to the subject's address on record (10 minutes, 5 attempts)."""
    request = rights.get_request(ctx.session, request_id)
    # No network limit here: the caller is the business's own server or staff, whose one
    # address serves every customer; the per-person limit still holds.
    issued = identity.send_code(ctx.session, ctx.principal, request, body.channel)
    return {"challenge_id": issued.challenge_id, "expires_at": issued.expires_at}


@router.post("/{request_id}/verification/code/check", response_model=schemas.RequestDetail)
def check_code(
    request_id: str, body: schemas.CodeCheck, ctx: Ctx = ctx_for("requests.manage")
) -> object:
    request = rights.get_request(ctx.session, request_id)
    try:
        identity.check_code(ctx.session, ctx.principal, request, body.code)
    except (verification.CodeIncorrect, Locked):
        # The failed attempt must be kept, or guessing would cost nothing.
        ctx.session.commit()
        raise
    return _detail(ctx, request)


@router.post("/{request_id}/verification/token", response_model=schemas.RequestDetail)
def check_token(
    request_id: str, body: schemas.TokenIn, ctx: Ctx = ctx_for("requests.manage")
) -> object:
    request = rights.get_request(ctx.session, request_id)
    identity.verify_session_token(ctx.session, ctx.principal, request, body.token)
    return _detail(ctx, request)


@router.post("/{request_id}/verification/staff", response_model=schemas.RequestDetail)
def staff_verify(
    request_id: str, body: schemas.NoteIn, ctx: Ctx = ctx_for("requests.approve")
) -> object:
    """Staff confirm the requester's identity, saying what they checked."""
    request = rights.get_request(ctx.session, request_id)
    rights.mark_verified(ctx.session, ctx.principal, request, "staff_review", body.note)
    return _detail(ctx, request)


@router.post("/{request_id}/match", response_model=schemas.RequestDetail)
def match(request_id: str, body: schemas.MatchIn, ctx: Ctx = ctx_for("requests.manage")) -> object:
    request = rights.get_request(ctx.session, request_id)
    rights.match_subject(ctx.session, ctx.principal, request, body.subject_id)
    return _detail(ctx, request)


@router.post("/{request_id}/assign", response_model=schemas.RequestDetail)
def assign(
    request_id: str, body: schemas.AssignIn, ctx: Ctx = ctx_for("requests.manage")
) -> object:
    request = rights.get_request(ctx.session, request_id)
    lifecycle.assign(ctx.session, ctx.principal, request, body.staff_id)
    return _detail(ctx, request)


@router.post("/{request_id}/await-requester", response_model=schemas.RequestDetail)
def await_requester(
    request_id: str, body: schemas.NoteIn, ctx: Ctx = ctx_for("requests.manage")
) -> object:
    request = rights.get_request(ctx.session, request_id)
    lifecycle.await_requester(ctx.session, ctx.principal, request, body.note)
    return _detail(ctx, request)


@router.post("/{request_id}/resume", response_model=schemas.RequestDetail)
def resume(request_id: str, ctx: Ctx = ctx_for("requests.manage")) -> object:
    request = rights.get_request(ctx.session, request_id)
    lifecycle.resume(ctx.session, ctx.principal, request)
    return _detail(ctx, request)


@router.get("/{request_id}/diff", response_model=list[schemas.DiffLine])
def diff(request_id: str, ctx: Ctx = ctx_for("requests.manage")) -> object:
    """A rectification's requested values beside the ones on record, for review."""
    return execution.diff(ctx.session, rights.get_request(ctx.session, request_id))


@router.post("/{request_id}/approve", response_model=schemas.RequestDetail)
def approve(request_id: str, ctx: Ctx = ctx_for("requests.approve")) -> object:
    request = rights.get_request(ctx.session, request_id)
    rights.approve(ctx.session, ctx.principal, request)
    return _detail(ctx, request)


@router.post("/{request_id}/deny", response_model=schemas.RequestDetail)
def deny(request_id: str, body: schemas.DenyIn, ctx: Ctx = ctx_for("requests.approve")) -> object:
    request = rights.get_request(ctx.session, request_id)
    rights.deny(ctx.session, ctx.principal, request, body.ground, body.note)
    return _detail(ctx, request)


@router.post("/{request_id}/cancel", response_model=schemas.RequestDetail)
def cancel(request_id: str, body: schemas.NoteIn, ctx: Ctx = ctx_for("requests.manage")) -> object:
    request = rights.get_request(ctx.session, request_id)
    lifecycle.cancel(ctx.session, ctx.principal, request, body.note)
    return _detail(ctx, request)


@router.post("/{request_id}/tasks/{task_id}/complete", response_model=schemas.RequestDetail)
def complete_task(
    request_id: str,
    task_id: str,
    body: schemas.TaskDoneIn,
    ctx: Ctx = ctx_for("requests.manage"),
) -> object:
    """Tick off a checklist task of another system (done, or skipped with the reason)."""
    request = rights.get_request(ctx.session, request_id)
    execution.complete_task(
        ctx.session,
        ctx.principal,
        request,
        task_id,
        status=body.status,
        note=body.note,
        kept=body.kept,
    )
    return _detail(ctx, request)


@router.post("/{request_id}/retry", response_model=schemas.RequestDetail)
def retry(request_id: str, ctx: Ctx = ctx_for("requests.manage")) -> object:
    """Run the automatic tasks again now (after a failure was fixed, e.g. a merge of subjects)."""
    request = rights.get_request(ctx.session, request_id)
    execution.retry(ctx.session, ctx.principal, request)
    return _detail(ctx, request)


@router.post("/{request_id}/route", response_model=schemas.RoutedOut)
def route(request_id: str, body: schemas.RouteIn, ctx: Ctx = ctx_for("requests.manage")) -> object:
    """Processor mode: hand an end user's request to the Business User that controls the data
    (needs its hosting grant with requests.manage); the clock keeps the original receipt time."""
    from privasi.rights import routing

    request = rights.get_request(ctx.session, request_id)
    # The routing opens the controller's organisation in its own transaction; this one must not
    # hold the processor's request meanwhile.
    ctx.session.commit()
    return routing.route(ctx.state("db"), ctx.principal, request.id, body.controller)


@router.post("/{request_id}/complete", response_model=schemas.RequestDetail)
def complete(request_id: str, ctx: Ctx = ctx_for("requests.approve")) -> object:
    request = rights.get_request(ctx.session, request_id)
    rights.complete(ctx.session, ctx.principal, request)
    return _detail(ctx, request)


@router.post("/{request_id}/approve-routed", response_model=schemas.RequestDetail)
def approve_routed(request_id: str, ctx: Ctx = ctx_for("requests.approve")) -> object:
    """Processor mode: approve a request a processor routed in (after verifying the requester)."""
    from privasi.rights import routing

    request = rights.get_request(ctx.session, request_id)
    ctx.session.commit()  # routing.approve works in its own units of work
    routing.approve(ctx.state("db"), ctx.principal, request.id)
    ctx.session.expire_all()
    return _detail(ctx, rights.get_request(ctx.session, request_id))
