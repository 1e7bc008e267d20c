"""Staff steps on an open request besides verifying, denying and completing: assigning it,
asking the requester for something (the clock runs on), cancelling it, and closing the
processor's copy of a request routed to its controller."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update

from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import InvalidTransition, ValidationFailed
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.rights.models import RequestTask, RightsRequest
from privasi.rights.service import (
    MAX_NOTE,
    audit_step,
    require_open,
    seal_note,
    stop_waiting,
    tell_requester,
)


def close_as_routed(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    controller_slug: str,
    routed_number: str,
) -> RightsRequest:
    """The processor's copy of a request handed to the controller (see ``routing.route``)."""
    now = utcnow()
    stop_waiting(request, now)
    request.status = "completed"
    request.completed_at = now
    request.outcome = {
        **(request.outcome or {}),
        "routed_to": {"org": controller_slug, "number": routed_number},
        "on_time": now <= request.due_at,
    }
    session.flush()
    audit_step(session, principal, request, "request.routed", to_org=controller_slug)
    return request


def assign(
    session: PrivasiSession, principal: Principal, request: RightsRequest, staff_id: str | None
) -> RightsRequest:
    require_open(request, "assigned")
    if staff_id is not None:
        orgs.get_staff(session, staff_id)
    request.assigned_to = staff_id
    session.flush()
    audit_step(session, principal, request, "request.assigned", staff_id=staff_id)
    return request


def await_requester(
    session: PrivasiSession, principal: Principal, request: RightsRequest, note: str
) -> RightsRequest:
    """Staff ask the requester for something (a proof, a clarification). The clock runs on."""
    require_open(request, "put on hold")
    if not note.strip() or len(note) > MAX_NOTE:
        raise ValidationFailed(f"say what is asked for (1-{MAX_NOTE} characters)", field="note")
    request.status = "awaiting_requester"
    request.waiting_since = request.waiting_since or utcnow()
    session.flush()
    audit_step(session, principal, request, "request.awaiting_requester")
    # Each question is its own message; the outbox row is written with the state change.
    tell_requester(
        session, request, "rights_awaiting_requester", {"note": note}, occasion=f":{new_id()}"
    )
    return request


def resume(session: PrivasiSession, principal: Principal, request: RightsRequest) -> RightsRequest:
    if request.status != "awaiting_requester":
        raise InvalidTransition("only a request awaiting the requester can be resumed")
    stop_waiting(request)
    request.status = "in_progress" if request.verified_at else "received"
    session.flush()
    audit_step(session, principal, request, "request.resumed")
    return request


def cancel(
    session: PrivasiSession, principal: Principal, request: RightsRequest, note: str
) -> RightsRequest:
    """Withdraw a request (the requester changed their mind) before irreversible steps ran."""
    if not note.strip() or len(note) > MAX_NOTE:
        raise ValidationFailed(f"say why it is cancelled (1-{MAX_NOTE} characters)", field="note")
    require_open(request, "cancelled")
    irreversible = session.scalar(
        select(func.count())
        .select_from(RequestTask)
        .where(
            RequestTask.request_id == request.id,
            or_(RequestTask.status == "done", RequestTask.status == "running"),
            RequestTask.kind == "privasi",
        )
    )
    if irreversible:
        raise InvalidTransition(
            "privasi's own steps have already run; the request cannot be cancelled"
        )
    now = utcnow()
    stop_waiting(request, now)
    request.status = "cancelled"
    request.completed_at = now
    request.denial_note = seal_note(
        session, request.org_id, f"{request.id}:closing", note[:MAX_NOTE]
    )
    session.execute(
        update(RequestTask)
        .where(RequestTask.request_id == request.id, RequestTask.status == "pending")
        .values(status="skipped", note="request cancelled"),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    audit_step(session, principal, request, "request.cancelled")
    return request
