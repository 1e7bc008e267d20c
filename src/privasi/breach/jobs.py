"""The worker's part: escalations at 50% and 90% of each unmet notice clock, the overdue mark,
and delivery tracking of sent notices.

Each escalation is recorded on the breach (``escalations``) and its messages carry dedupe keys,
so running the check any number of times, in any number of workers, escalates once per stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.worker import reconciler

from . import clocks as breach_clocks
from . import dispatch, notices, service
from .models import OPEN_STATUSES, Breach, BreachDelivery

# ``dispatch`` registers the job that sends a notice to the rest of the affected people.
SENDER = dispatch.SEND_KIND
CHECK_KIND = "breach.check_clocks"
STAGES = (50, 90)


def _recipients(session: PrivasiSession, breach: Breach) -> list[tuple[str, str]]:
    """(staff id, e-mail): the DPOs and owners, and the breach's owner whatever their role."""
    people = {
        s.id: s.email for s in orgs.list_staff(session) if s.active and s.role in ("owner", "dpo")
    }
    if breach.owner_id:
        try:
            owner = orgs.get_staff(session, breach.owner_id)
        except NotFound:
            owner = None
        if owner is not None and owner.active:
            people[owner.id] = owner.email
    return sorted(people.items())


def escalate(session: PrivasiSession, breach: Breach, now: datetime | None = None) -> int:
    """Escalate every stage reached by an unmet clock, once; returns messages queued."""
    now = now or utcnow()
    principal = orgs.system_principal(breach.org_id, "breach-clocks")
    queued = 0
    marks = dict(breach.escalations or {})
    for clock in breach_clocks.clocks(session, breach):
        if clock.met_at is not None:
            continue
        for stage in STAGES:
            key = f"{clock.name}:{stage}"
            if key in marks or now < clock.stage_time(stage):
                continue
            marks[key] = now.isoformat()
            for staff_id, email in _recipients(session, breach):
                notify.enqueue(
                    session,
                    channel="email",
                    template="breach_clock_reminder",
                    lang=breach.notice_lang,
                    to=email,
                    params={
                        "reference": service.reference(breach),
                        "clock": clock.name,
                        "stage": str(stage),
                        "due": clock.due_at,
                    },
                    dedupe_key=f"breach.escalation:{breach.id}:{key}:{staff_id}",
                )
                queued += 1
            service.event(session, principal, breach, "escalated", clock=clock.name, stage=stage)
        key = f"{clock.name}:overdue"
        if key not in marks and now > clock.due_at:
            marks[key] = now.isoformat()
            service.event(session, principal, breach, "clock_overdue", clock=clock.name)
    if marks != breach.escalations:
        breach.escalations = marks
        session.flush()
    return queued


def check_org(session: PrivasiSession, now: datetime | None = None) -> dict[str, int]:
    stats = {"escalations": 0, "deliveries": 0}
    for breach in session.scalars(select(Breach).where(Breach.status.in_(OPEN_STATUSES))):
        stats["escalations"] += escalate(session, breach, now)
    stats["deliveries"] = notices.track(session, now)
    return stats


def check_all(db: Database, now: datetime | None = None) -> dict[str, int]:
    totals = {"escalations": 0, "deliveries": 0}
    with db.session(system=True) as system:
        org_ids = set(system.scalars(select(Breach.org_id).where(Breach.status.in_(OPEN_STATUSES))))
        org_ids |= set(
            system.scalars(select(BreachDelivery.org_id).where(BreachDelivery.status == "queued"))
        )
    for org_id in sorted(org_ids):
        with db.session(org_id) as session:
            for key, value in check_org(session, now).items():
                totals[key] += value
    return totals


@reconciler("breach-clocks")
def _schedule(system: PrivasiSession) -> int:
    """One check a minute while a breach is open or a notice is being delivered."""
    busy = system.scalar(select(Breach.id).where(Breach.status.in_(OPEN_STATUSES)).limit(1))
    if busy is None:
        busy = system.scalar(
            select(BreachDelivery.id).where(BreachDelivery.status == "queued").limit(1)
        )
    if busy is None:
        return 0
    key = f"{CHECK_KIND}:{utcnow().strftime('%Y%m%dT%H%M')}"
    if system.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return 0
    jobs.enqueue(system, CHECK_KIND, {}, dedupe_key=key, max_attempts=1)
    return 1


@jobs.handler(CHECK_KIND)
def _run_check(db: Database, job: Job) -> dict[str, Any]:
    return check_all(db)
