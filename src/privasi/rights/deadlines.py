"""Due times, the share of the clock used, and the worker's reminders and overdue marking.

Due times are computed in the organisation's time zone (a calendar month ends on the same local
day, whatever UTC says), stored in UTC, and never moved: the clock starts at receipt (UU PDP
Pasal 14) and does not pause while identity is verified or the requester is asked for more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy import law
from privasi.policy import service as policies
from privasi.rights.models import OPEN_STATUSES, RightsRequest
from privasi.worker import reconciler

log = logging.getLogger("privasi.rights")

# The request types of the rights API, as the policy and the law name them.
LAW_TYPE = {
    "access": "access",
    "portability": "portability",
    "rectification": "rectification",
    "erasure": "erasure",
    "restriction": "restriction",
    "objection": "objection",
    "withdraw_consent": "withdrawal",
    "automated_decision_objection": "automated_decision",
}
CHECK_KIND = "rights.check_deadlines"


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    period: str  # ISO 8601, e.g. PT72H
    basis: str  # "law" when the statutory clock binds, else "policy"


def org_zone(session: PrivasiSession) -> ZoneInfo:
    org = orgs.get_org(session, session.require_org())
    return ZoneInfo(org.time_zone or "Asia/Jakarta")


def compute(session: PrivasiSession, request_type: str, received_at: datetime) -> Deadline:
    policy = policies.current_policy(session)
    kind = LAW_TYPE[request_type]
    period = law.effective_deadline(policy, kind)
    statutory = law.statutory_deadline(policy.jurisdictions, law.RequestType(kind))
    basis = "law" if statutory is not None and statutory == period else "policy"
    local = received_at.astimezone(org_zone(session))
    due = period.add_to(local).astimezone(UTC)
    return Deadline(due, period.iso(), basis)


def share_used(request: RightsRequest, now: datetime) -> float:
    """How much of the time allowed has passed, in percent (over 100 when overdue)."""
    total = (request.due_at - request.received_at).total_seconds()
    if total <= 0:
        return 100.0 if now >= request.due_at else 0.0
    return 100.0 * (now - request.received_at).total_seconds() / total


def reminder_time(request: RightsRequest, share: int) -> datetime:
    return request.received_at + (request.due_at - request.received_at) * share / 100


def time_left(request: RightsRequest, now: datetime) -> int:
    """Seconds until the due time; negative once overdue."""
    return int((request.due_at - now).total_seconds())


def is_overdue(request: RightsRequest, now: datetime) -> bool:
    """Still open and past its due time."""
    return request.status in OPEN_STATUSES and now > request.due_at


def waiting_seconds(request: RightsRequest, now: datetime) -> int:
    running = (now - request.waiting_since).total_seconds() if request.waiting_since else 0
    return request.waiting_seconds + int(max(0, running))


def local_time(session: PrivasiSession, moment: datetime | None) -> str | None:
    return moment.astimezone(org_zone(session)).isoformat() if moment else None


def _recipients(session: PrivasiSession, request: RightsRequest) -> list[tuple[str, str]]:
    """(staff id, e-mail) to remind: the assigned person, else the owners and DPOs."""
    if request.assigned_to:
        try:
            staff = orgs.get_staff(session, request.assigned_to)
        except NotFound:  # a removed account: the DPOs are reminded instead
            staff = None
        if staff is not None and staff.active:
            return [(staff.id, staff.email)]
    return [
        (s.id, s.email) for s in orgs.list_staff(session) if s.role in ("owner", "dpo") and s.active
    ]


def _remind(session: PrivasiSession, request: RightsRequest, stage: str) -> int:
    from privasi.rights import service

    sent = 0
    zone = org_zone(session)
    for staff_id, email in _recipients(session, request):
        notify.enqueue(
            session,
            channel="email",
            template="rights_deadline_reminder",
            lang="id",
            to=email,
            params={
                "number": service.display_number(request),
                "request_type": request.type,
                "type_name": service.type_name(request.type, "id"),
                "stage": stage,
                "due": request.due_at.astimezone(zone).isoformat(),
            },
            dedupe_key=f"rights.reminder:{request.id}:{stage}:{staff_id}",
        )
        sent += 1
    return sent


def check_org(session: PrivasiSession, now: datetime | None = None) -> dict[str, int]:
    """Reminders at 50% and 90% of the clock and overdue marking for one organisation's open
    requests. Safe to run any number of times: each step happens once per request."""
    from privasi.rights import service

    now = now or utcnow()
    stats = {"reminders": 0, "overdue": 0}
    rows = session.scalars(
        select(RightsRequest)
        .where(RightsRequest.status.in_(OPEN_STATUSES))
        .order_by(RightsRequest.due_at)
    )
    principal = orgs.system_principal(session.require_org(), "deadlines")
    for request in list(rows):
        if request.reminded_50_at is None and now >= reminder_time(request, 50):
            request.reminded_50_at = now
            stats["reminders"] += _remind(session, request, "50")
        if request.reminded_90_at is None and now >= reminder_time(request, 90):
            request.reminded_90_at = now
            request.reminded_50_at = request.reminded_50_at or now
            stats["reminders"] += _remind(session, request, "90")
        if request.overdue_at is None and now > request.due_at:
            request.overdue_at = now
            stats["overdue"] += 1
            service.audit_step(session, principal, request, "request.overdue")
            _remind(session, request, "overdue")
    session.flush()
    return stats


def check_all(db: Database, now: datetime | None = None) -> dict[str, int]:
    totals = {"reminders": 0, "overdue": 0}
    with db.session(system=True) as system:
        org_ids = sorted(
            set(
                system.scalars(
                    select(RightsRequest.org_id).where(RightsRequest.status.in_(OPEN_STATUSES))
                )
            )
        )
    for org_id in org_ids:
        with db.session(org_id) as session:
            for key, value in check_org(session, now).items():
                totals[key] += value
    return totals


@reconciler("rights-deadlines")
def _schedule(system: PrivasiSession) -> int:
    """One deadline check a minute while requests are open; the dedupe key makes every tick in
    that minute a no-op."""
    open_request = system.scalar(
        select(RightsRequest.id).where(RightsRequest.status.in_(OPEN_STATUSES)).limit(1)
    )
    if open_request is None:
        return 0
    minute = utcnow().strftime("%Y%m%dT%H%M")
    key = f"{CHECK_KIND}:{minute}"
    if system.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return 0
    jobs.enqueue(system, CHECK_KIND, {}, dedupe_key=key, max_attempts=1)
    return 1


@jobs.handler(CHECK_KIND)
def _run_check(db: Database, job: Job) -> dict[str, Any]:
    return check_all(db)
