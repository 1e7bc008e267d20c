"""Sending a breach notice to the affected people, in batches.

The first batch goes out in the request that sends the notice; the rest is sent by a job, one
batch per transaction. A person is picked only while they have no delivery row for the notice,
and every outbox message carries a dedupe key, so a batch replayed after a crash sends nothing
twice. People are reached by e-mail and, where they opted into WhatsApp service messages, by
WhatsApp, in the language they last used with the organisation; someone reachable on neither is recorded as unreachable for staff to follow up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from privasi.db import Database, PrivasiSession
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.policy import service as policies
from privasi.policy.schema import Policy
from privasi.policy.vocab import PurposeKind
from privasi.subjects import service as subjects

from . import notices
from .models import Breach, BreachDelivery, BreachNotice, BreachSubject

BATCH = 200
SEND_KIND = "breach.send_notice"


def _whatsapp_opted_in(session: PrivasiSession, policy: Policy, subject_ids: list[str]) -> set[str]:
    """Subjects who may get WhatsApp service messages: a WhatsApp id on record and a non-marketing
    purpose of the policy that uses WhatsApp allowed for them now (by contract, or by consent
    they gave)."""
    from privasi.consent import checks

    purposes = [
        p.id
        for p in policy.purposes
        if "whatsapp" in [c.value for c in p.channels] and p.kind is not PurposeKind.marketing
    ]
    if not purposes or not subject_ids:
        return set()
    allowed: set[str] = set()
    for start in range(0, len(subject_ids), checks.MAX_CHECK):
        chunk = subject_ids[start : start + checks.MAX_CHECK]
        for purpose in purposes:
            allowed |= {d.subject_id for d in checks.check(session, chunk, purpose) if d.allowed}
    return allowed


def _reachable(session: PrivasiSession, subject: Any, channel: str) -> bool:
    if channel == "whatsapp":
        return bool(subjects.identifiers(session, subject).get("whatsapp"))
    return subjects.contact_for(session, subject, channel) is not None


def _language(session: PrivasiSession, subject_id: str, default: str) -> str:
    """The language the person last used with the organisation (that of their latest consent),
    else the organisation's notice language."""
    from privasi.consent import service as consent

    for event in reversed(consent.history(session, subject_id)):
        if event.language in ("id", "en"):
            return event.language
    return default


def _waiting(breach: Breach, notice: BreachNotice) -> ColumnElement[bool]:
    """The affected people of the breach not sent the notice yet (a filter)."""
    done = select(BreachDelivery.recipient).where(BreachDelivery.notice_id == notice.id)
    return and_(BreachSubject.breach_id == breach.id, BreachSubject.subject_id.not_in(done))


def _pending(
    session: PrivasiSession, breach: Breach, notice: BreachNotice, limit: int
) -> list[BreachSubject]:
    return list(
        session.scalars(
            select(BreachSubject)
            .where(_waiting(breach, notice))
            .order_by(BreachSubject.created_at, BreachSubject.id)
            .limit(limit)
        )
    )


def dispatch_subjects(
    session: PrivasiSession,
    breach: Breach,
    notice: BreachNotice,
    policy: Policy,
    limit: int | None = None,
) -> dict[str, int]:
    """Queue the notice for up to ``limit`` (a batch) affected people not sent it yet."""
    channels = {c.value for c in policy.breach.channels}
    rows = _pending(session, breach, notice, limit or BATCH)
    whatsapp = (
        _whatsapp_opted_in(session, policy, [r.subject_id for r in rows])
        if "whatsapp" in channels
        else set()
    )
    stats = {"email": 0, "whatsapp": 0, "unreachable": 0}
    for row in rows:
        subject = subjects.get_subject(session, row.subject_id)
        params = notices.message_params(notice, row.categories)
        lang = _language(session, row.subject_id, breach.notice_lang)
        sent_any = False
        wanted = [("email", "email" in channels or "whatsapp" not in channels)]
        wanted.append(("whatsapp", row.subject_id in whatsapp))
        for channel, wanted_here in wanted:
            if not wanted_here or not _reachable(session, subject, channel):
                continue
            message = notify.enqueue(
                session,
                channel=channel,
                template=notices.TEMPLATES["subjects"],
                lang=lang,
                params=params,
                subject_id=row.subject_id,
                dedupe_key=f"breach:{notice.id}:{row.subject_id}:{channel}",
            )
            notices.deliver(session, notice, row.subject_id, channel, message_id=message.id)
            stats[channel] += 1
            sent_any = True
        if not sent_any:
            notices.deliver(session, notice, row.subject_id, "none", status="unreachable")
            stats["unreachable"] += 1
    session.flush()
    return stats


def schedule_rest(session: PrivasiSession, breach: Breach, notice: BreachNotice) -> int:
    """How many people still wait for the notice; a job is queued to send it to them."""
    remaining = (
        session.scalar(
            select(func.count()).select_from(BreachSubject).where(_waiting(breach, notice))
        )
        or 0
    )
    if remaining:
        jobs.enqueue(
            session,
            SEND_KIND,
            {"breach_id": breach.id, "notice_id": notice.id},
            org_id=breach.org_id,
            dedupe_key=f"{SEND_KIND}:{notice.id}",
        )
    return remaining


@jobs.handler(SEND_KIND)
def _send_rest(db: Database, job: Job) -> dict[str, Any]:
    assert job.org_id is not None
    totals = {"email": 0, "whatsapp": 0, "unreachable": 0}
    while True:
        with db.session(job.org_id) as session:
            notice = session.get(BreachNotice, str(job.payload["notice_id"]))
            breach = session.get(Breach, str(job.payload["breach_id"]))
            if notice is None or breach is None:
                return totals
            stats = dispatch_subjects(session, breach, notice, policies.current_policy(session))
        for key, value in stats.items():
            totals[key] += value
        if sum(stats.values()) < BATCH:
            return totals
