"""Rights requests: intake, the life cycle, denials, completion and the evidence record.

Every step is an audit event (``request.*``) with ids and field names only. No HTTP and no CLI
here; execution (the plan and its tasks) lives in ``execution.py``, identity in ``identity.py``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from privasi.db import PrivasiSession, utcnow
from privasi.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.rights import deadlines
from privasi.rights.models import (
    CHANNELS,
    OPEN_STATUSES,
    REQUEST_TYPES,
    REQUESTER_KINDS,
    STATUSES,
    RequestCounter,
    RequestTask,
    RightsRequest,
)
from privasi.rights.records import (
    DENIAL_GROUNDS,
    NUMBER_PREFIX,
    audit_step,
    details_of,
    display_number,
    evidence,
    kept_lines,
    open_note,
    request_status_public,
    requester_id,
    seal_details,
    seal_note,
    status_token,
    tasks_of,
    tell_requester,
    token_hash,
    type_name,
)
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

__all__ = [
    "DENIAL_GROUNDS",
    "NUMBER_PREFIX",
    "REQUEST_TYPES",
    "STATUSES",
    "RequestDenied",
    "RightsRequest",
    "audit_step",
    "complete",
    "deny",
    "details_of",
    "display_number",
    "due_at",
    "evidence",
    "get_request",
    "kept_lines",
    "list_requests",
    "mark_verified",
    "open_note",
    "request_status_public",
    "requester_id",
    "seal_details",
    "status_token",
    "submit",
    "tasks_of",
    "tell_requester",
    "type_name",
    "utcnow",
]

LANGS = ("id", "en")
MAX_NOTE = 2000


class RequestDenied(Conflict):
    """Raised to a caller acting on a denied request; the request itself records the ground."""

    type = "rights-request-denied"
    title = "The request was denied"


@dataclass
class Page:
    items: list[RightsRequest]
    next_cursor: str | None


def _next_number(session: PrivasiSession) -> int:
    org_id = session.require_org()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(RequestCounter).on_conflict_do_nothing(index_elements=["org_id"]),
        [{"id": secrets.token_hex(8), "org_id": org_id, "last": 0}],
    )
    # The UPDATE takes the row lock, so two submissions never get the same number.
    session.execute(
        update(RequestCounter).values(last=RequestCounter.last + 1),
        execution_options={"synchronize_session": False},
    )
    value = session.scalar(select(RequestCounter.last).execution_options(populate_existing=True))
    return int(value or 0)


def _check_details(type: str, details: dict[str, Any] | None) -> dict[str, Any]:
    details = dict(details or {})
    if len(json.dumps(details, default=str)) > 20_000:
        raise ValidationFailed("details are larger than 20,000 characters", field="details")
    if type == "rectification":
        changes = details.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise ValidationFailed(
                "a rectification needs details.changes: {field: corrected value}",
                field="details.changes",
            )
        for name, value in changes.items():
            if not isinstance(name, str) or not isinstance(value, str) or not value.strip():
                raise ValidationFailed(
                    "each change is a field name and its corrected value as text",
                    field="details.changes",
                )
    if "purposes" in details:
        purposes = details["purposes"]
        if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
            raise ValidationFailed("details.purposes is a list of purpose ids", field="details")
    return details


def due_at(session: PrivasiSession, type: str, received_at: datetime) -> datetime:
    return deadlines.compute(session, type, received_at).due_at


def submit(
    session: PrivasiSession,
    principal: Principal,
    *,
    type: str,
    channel: str,
    identifiers: dict[str, str] | None = None,
    subject_id: str | None = None,
    requester_kind: str = "subject",
    requester_note: str | None = None,
    requester_subject_id: str | None = None,
    details: dict[str, Any] | None = None,
    lang: str = "id",
    received_at: datetime | None = None,
) -> RightsRequest:
    """Record a request (UU PDP Pasal 14) and start its clock at ``received_at`` (now).

    With identifiers the subject is found, never created: a request about someone the business
    does not know is still recorded, and staff match it or answer that nothing is held.
    """
    if type not in REQUEST_TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(REQUEST_TYPES)}", field="type")
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    if requester_kind not in REQUESTER_KINDS:
        raise ValidationFailed(
            f"requester_kind must be one of {', '.join(REQUESTER_KINDS)}", field="requester_kind"
        )
    if requester_subject_id is not None and requester_kind == "subject":
        raise ValidationFailed(
            "requester_subject_id is for a guardian or agent acting for the subject",
            field="requester_subject_id",
        )
    if (
        requester_kind != "subject"
        and requester_subject_id is None
        and not (requester_note or "").strip()
    ):
        raise ValidationFailed(
            "a guardian or agent request needs requester_note: who acts and what proves it",
            field="requester_note",
        )
    if requester_note is not None and len(requester_note) > MAX_NOTE:
        raise ValidationFailed(
            f"requester_note is at most {MAX_NOTE} characters", field="requester_note"
        )
    if lang not in LANGS:
        raise ValidationFailed("lang must be id or en", field="lang")
    clean = _check_details(type, details)
    received = received_at or utcnow()
    if received.tzinfo is None:
        raise ValidationFailed("received_at needs a time zone", field="received_at")
    if received > utcnow():
        raise ValidationFailed("received_at cannot be in the future", field="received_at")
    subject = None
    if subject_id is not None:
        subject = subjects.get_subject(session, subject_id)
    elif identifiers:
        subject = subjects.find_existing(session, identifiers)
    if requester_subject_id is not None:
        _check_requester(session, requester_kind, subject, requester_subject_id)
    deadline = deadlines.compute(session, type, received)
    token = secrets.token_urlsafe(24)
    request = RightsRequest(
        number=_next_number(session),
        type=type,
        status="received",
        subject_id=subject.id if subject else None,
        channel=channel,
        requester_kind=requester_kind,
        requester_note=None,  # sealed with the details: it may name the agent or guardian
        requester_subject_id=requester_subject_id,
        received_at=received,
        due_at=deadline.due_at,
        deadline_basis=f"{deadline.basis}:{deadline.period}",
        lang=lang,
        outcome={},
        status_token_hash=token_hash(token),
        status_token_enc="",
    )
    session.add(request)
    session.flush()
    request.status_token_enc = vault_for(session).seal_for_org(
        request.org_id, "secrets", token.encode(), f"rights_status:{request.id}"
    )
    note = (requester_note or "").strip()
    sealed = {**clean, "requester_note": note} if note else dict(clean)
    if subject is None and identifiers:
        # Kept (sealed) so staff can match the request later or answer that nothing is held.
        sealed["identifiers"] = {str(k): str(v) for k, v in identifiers.items()}
    seal_details(session, request, sealed)
    session.flush()
    audit_step(
        session,
        principal,
        request,
        "request.received",
        channel=channel,
        requester_kind=requester_kind,
        matched=subject is not None,
        # Unix seconds: an ISO time with microseconds can read as a phone number to the audit check.
        due_at=int(request.due_at.timestamp()),
        detail_fields=sorted(clean),
    )
    tell_requester(session, request, "rights_received")
    return request


def _check_requester(
    session: PrivasiSession, kind: str, subject: Any, requester_subject_id: str
) -> None:
    subjects.get_subject(session, requester_subject_id)
    if kind == "guardian" and (
        subject is None or not subjects.is_guardian(session, subject.id, requester_subject_id)
    ):
        raise ValidationFailed(
            "the requester is not a guardian linked to this subject; link the guardian first "
            "or describe the proof in requester_note",
            field="requester_subject_id",
        )


def get_request(session: PrivasiSession, request_id_or_number: str) -> RightsRequest:
    key = (request_id_or_number or "").strip()
    request: RightsRequest | None = None
    number = key.upper().removeprefix(NUMBER_PREFIX)
    if number.isdigit() and len(number) <= 9:
        request = session.scalar(select(RightsRequest).where(RightsRequest.number == int(number)))
    if request is None and 0 < len(key) <= 36:
        request = session.get(RightsRequest, key)
    if request is None:
        raise NotFound("rights request not found")
    return request


def list_requests(
    session: PrivasiSession,
    *,
    status: str | None = None,
    order: str = "time_left",
    limit: int = 50,
    cursor: str | None = None,
    open_only: bool = False,
    overdue: bool | None = None,
    subject_id: str | None = None,
) -> Page:
    """Requests by time left (soonest due first) or newest first; ``cursor`` is an offset."""
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    if order not in ("time_left", "newest"):
        raise ValidationFailed("order is time_left or newest", field="order")
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    query = select(RightsRequest)
    if status is not None:
        query = query.where(RightsRequest.status == status)
    if open_only:
        query = query.where(RightsRequest.status.in_(OPEN_STATUSES))
    if subject_id is not None:
        query = query.where(RightsRequest.subject_id == subject_id)
    if overdue is not None:
        now = utcnow()
        query = query.where(
            RightsRequest.due_at < now if overdue else RightsRequest.due_at >= now,
            RightsRequest.status.in_(OPEN_STATUSES),
        )
    if order == "time_left":
        # Open requests first, soonest due first; closed ones after, most recent first.
        is_closed = RightsRequest.status.not_in(OPEN_STATUSES)
        query = query.order_by(is_closed, RightsRequest.due_at, RightsRequest.number)
    else:
        query = query.order_by(RightsRequest.number.desc())
    rows = list(session.scalars(query.offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return Page(rows[:limit], str(offset + limit) if more else None)


def counts(session: PrivasiSession) -> dict[str, int]:
    rows = session.execute(
        select(RightsRequest.status, func.count()).group_by(RightsRequest.status)
    ).all()
    return {status: int(n) for status, n in rows}


def overdue_count(session: PrivasiSession, now: datetime | None = None) -> int:
    """Open requests past their due time, counted in the database (the rule of ``is_overdue``)."""
    moment = now or utcnow()
    query = select(func.count()).where(
        RightsRequest.status.in_(OPEN_STATUSES), RightsRequest.due_at < moment
    )
    return int(session.scalar(query.select_from(RightsRequest)) or 0)


# --- life cycle --------------------------------------------------------------------------------


def require_open(request: RightsRequest, doing: str) -> None:
    if request.status == "denied":
        raise RequestDenied(f"{display_number(request)} was denied; it cannot be {doing}")
    if request.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"{display_number(request)} is {request.status}; it cannot be {doing}"
        )


def stop_waiting(request: RightsRequest, now: datetime | None = None) -> None:
    if request.waiting_since is not None:
        request.waiting_seconds = deadlines.waiting_seconds(request, now or utcnow())
        request.waiting_since = None


def match_subject(
    session: PrivasiSession, principal: Principal, request: RightsRequest, subject_id: str
) -> RightsRequest:
    """Staff link a request received for an unknown identifier to a subject."""
    require_open(request, "matched")
    subject = subjects.get_subject(session, subject_id)
    if request.subject_id not in (None, subject.id):
        raise Conflict("the request is already matched to another subject")
    details = details_of(session, request)
    details.pop("identifiers", None)  # the subject's own identifiers are on record now
    request.subject_id = subject.id
    seal_details(session, request, details)
    session.flush()
    audit_step(session, principal, request, "request.matched")
    return request


def mark_verified(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    method: str,
    note: str | None = None,
) -> RightsRequest:
    """Identity is proven: the plan is made and execution is queued (``rights.execute``)."""
    from privasi.rights import execution

    require_open(request, "verified")
    if request.verified_at is not None:
        return request
    if request.subject_id is None:
        raise Conflict("match the request to a subject before verifying the requester")
    if method == "staff_review" and not (note or "").strip():
        raise ValidationFailed(
            "staff verification needs a note saying what was checked", field="note"
        )
    now = utcnow()
    stop_waiting(request, now)
    request.verified_at = now
    request.verification_method = method
    request.verification_note = seal_note(
        session, request.org_id, f"{request.id}:verification", note
    )
    request.status = "in_progress"
    session.flush()
    audit_step(session, principal, request, "request.verified", method=method)
    execution.plan(session, request)
    execution.schedule(session, request)
    return request


def approve(session: PrivasiSession, principal: Principal, request: RightsRequest) -> RightsRequest:
    """A rectification's changes were reviewed (see ``execution.diff``) and may be applied."""
    from privasi.rights import execution

    principal.require("requests.approve")
    require_open(request, "approved")
    if request.type != "rectification":
        raise InvalidTransition("only rectifications wait for an approval of their changes")
    if request.verified_at is None:
        raise InvalidTransition("verify the requester's identity first")
    if request.approved_at is None:
        request.approved_at = utcnow()
        session.flush()
        audit_step(session, principal, request, "request.approved")
        execution.schedule(session, request)
    return request


def deny(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    ground: str,
    note: str,
) -> RightsRequest:
    """Refuse with a recorded ground; the requester is told why."""
    principal.require("requests.approve")
    if ground not in DENIAL_GROUNDS:
        raise ValidationFailed(f"ground must be one of {', '.join(DENIAL_GROUNDS)}", field="ground")
    if not (note or "").strip() or len(note) > MAX_NOTE:
        raise ValidationFailed(f"explain the denial (1-{MAX_NOTE} characters)", field="note")
    require_open(request, "denied")
    done = session.scalar(
        select(func.count())
        .select_from(RequestTask)
        .where(RequestTask.request_id == request.id, RequestTask.status == "done")
    )
    if done and request.type == "erasure":
        raise InvalidTransition("erasure steps have already run; the request cannot be denied")
    now = utcnow()
    stop_waiting(request, now)
    request.status = "denied"
    request.denial_ground = ground
    request.denial_note = seal_note(session, request.org_id, f"{request.id}:closing", note)
    request.completed_at = now
    session.execute(
        update(RequestTask)
        .where(RequestTask.request_id == request.id, RequestTask.status == "pending")
        .values(status="skipped", note="request denied"),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    audit_step(session, principal, request, "request.denied", ground=ground)
    index = 0 if request.lang == "id" else 1
    tell_requester(
        session, request, "rights_denied", {"ground": DENIAL_GROUNDS[ground][index], "note": note}
    )
    return request


def complete(
    session: PrivasiSession, principal: Principal, request: RightsRequest
) -> RightsRequest:
    """Close a request whose tasks are all finished; the evidence record is what remains."""
    if request.status == "completed":
        return request
    require_open(request, "completed")
    if request.verified_at is None:
        raise InvalidTransition("the requester's identity was never verified")
    tasks = tasks_of(session, request)
    unfinished = [t.system_id for t in tasks if t.status not in ("done", "skipped")]
    if unfinished:
        raise InvalidTransition(
            f"tasks still open for: {', '.join(sorted(set(unfinished)))}", systems=unfinished
        )
    now = utcnow()
    stop_waiting(request, now)
    kept = [k for t in tasks for k in (t.result or {}).get("kept", [])]
    request.outcome = {
        **(request.outcome or {}),
        "done": [{"system": t.system_id, "action": t.action, "status": t.status} for t in tasks],
        "kept": kept,
        "on_time": now <= request.due_at,
    }
    request.status = "completed"
    request.completed_at = now
    session.flush()
    audit_step(
        session,
        principal,
        request,
        "request.completed",
        on_time=now <= request.due_at,
        kept=len(kept),
    )
    if request.type != "erasure":
        tell_requester(
            session, request, "rights_completed", {"kept": kept_lines(request.lang, kept)}
        )
    return request
