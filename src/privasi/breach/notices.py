"""Notices: drafted from the breach with the Pasal 46(2) content, approved by a DPO, then sent.

A notice's ``content`` holds what the message templates are filled with (the data exposed, when
and how, the handling and recovery, the contact) in id and en; the approval freezes it with a
digest, and sending uses exactly what was approved. People are reached through the outbox by
e-mail and, where they opted into WhatsApp service messages, by WhatsApp; each recipient and
channel is one delivery row whose state follows the outbox message. The authority's notice is a
document (``documents.py``) submitted by staff, who record the submission here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy

from . import affected, service
from .models import AUDIENCES, Breach, BreachDelivery, BreachNotice

APPROVE_PERMISSION = "breach.approve"
TEMPLATES = {"subjects": "breach_notice", "business_users": "breach_business_user_notice"}


def contact_of(policy: Policy) -> str:
    """Where people write about the incident: the breach contact, else the privacy contact."""
    contacts = policy.breach.contacts
    return str(contacts[0]) if contacts else policy.organisation.contacts.primary


def _names(policy: Policy, categories: list[str]) -> list[dict[str, str]]:
    out = []
    for category_id in categories:
        try:
            name = policy.category(category_id).name
        except KeyError:
            out.append({"id": category_id, "en": category_id})
            continue
        out.append({"id": name.get("id") or category_id, "en": name.get("en") or category_id})
    return out


def build_content(session: PrivasiSession, breach: Breach) -> dict[str, Any]:
    """The Pasal 46(2) content of every notice of this breach, in id and en."""
    missing = [
        f"{name}.{lang}"
        for name in ("description", "measures")
        for lang in service.LANGS
        if not getattr(breach, name).get(lang)
    ]
    if not breach.categories:
        missing.insert(0, "categories")
    if missing:
        raise ValidationFailed(
            "a notice needs the exposed categories and, in id and en, how it happened "
            "(description) and the handling and recovery (measures); missing: "
            + ", ".join(missing),
            field=missing[0],
        )
    policy = policies.current_policy(session)
    content: dict[str, Any] = {
        "reference": service.reference(breach),
        "categories": _names(policy, breach.categories),
        "category_ids": list(breach.categories),
        "detected_at": breach.detected_at.isoformat(),
        "occurred_from": breach.occurred_from.isoformat() if breach.occurred_from else None,
        "occurred_until": breach.occurred_until.isoformat() if breach.occurred_until else None,
        "how": dict(breach.description),
        "handling": dict(breach.measures),
        "advice": dict(breach.advice) if len(breach.advice) == 2 else None,
        "contact": contact_of(policy),
        "authority": {
            "name": dict(policy.breach_authority().name),
            "email": policy.breach_authority().email,
        },
    }
    return content


def digest_of(content: dict[str, Any]) -> str:
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def notices_of(session: PrivasiSession, breach: Breach) -> list[BreachNotice]:
    order = {a: i for i, a in enumerate(service.CLOCKS)}
    rows = session.scalars(select(BreachNotice).where(BreachNotice.breach_id == breach.id))
    return sorted(rows, key=lambda n: order.get(n.audience, 9))


def get_notice(session: PrivasiSession, breach: Breach, audience: str) -> BreachNotice:
    notice = session.scalar(
        select(BreachNotice).where(
            BreachNotice.breach_id == breach.id, BreachNotice.audience == audience
        )
    )
    if notice is None:
        raise NotFound(f"no {audience} notice drafted yet")
    return notice


def draft(session: PrivasiSession, principal: Principal, breach: Breach) -> list[BreachNotice]:
    """Draft (or redraft) every notice the breach needs from what is recorded now. Sent notices
    stay as they were sent; an approved one goes back to draft when its content changed."""
    service._require_open(breach)
    content = build_content(session, breach)
    digest = digest_of(content)
    existing = {n.audience: n for n in notices_of(session, breach)}
    for audience in service.required_clocks(breach):
        notice = existing.get(audience)
        if notice is not None and notice.status == "sent":
            continue
        if notice is None:
            notice = BreachNotice(breach_id=breach.id, audience=audience)
            session.add(notice)
        elif notice.digest == digest:
            continue
        notice.content = content
        notice.digest = digest
        notice.status = "draft"
        notice.drafted_at = utcnow()
        notice.approved_by = None
        notice.approved_at = None
        session.flush()
        service.event(
            session, principal, breach, "notice_drafted", audience=audience, digest=digest
        )
    return notices_of(session, breach)


def preview(notice: BreachNotice, lang: str, org_name: str, time_zone: str) -> dict[str, str]:
    """The notice as its recipients will read it (the authority's: the document's text)."""
    if notice.audience == "authority":
        from . import documents

        return {
            "subject": "",
            "text": documents.authority_text(notice.content, lang, ZoneInfo(time_zone)),
        }
    params = message_params(notice, notice.content["category_ids"], "BUSINESS USER")
    rendered = notify.render(
        TEMPLATES[notice.audience], lang, {"org_name": org_name, "time_zone": time_zone, **params}
    )
    return {"subject": rendered.subject, "text": rendered.text}


def message_params(
    notice: BreachNotice, category_ids: list[str], business_user: str | None = None
) -> dict[str, Any]:
    """Template parameters: the approved content, narrowed to the categories of one person."""
    content = notice.content
    names = dict(zip(content["category_ids"], content["categories"], strict=True))
    chosen = [names[c] for c in category_ids if c in names] or content["categories"]
    params: dict[str, Any] = {
        "reference": content["reference"],
        "categories": chosen,
        "detected_at": content["detected_at"],
        "how": content["how"],
        "handling": content["handling"],
        "contact": content["contact"],
        "occurred_from": content.get("occurred_from"),
        "occurred_until": content.get("occurred_until"),
        "advice": content.get("advice"),
    }
    if notice.audience == "business_users":
        params["business_user"] = business_user or ""
    return params


def approve(
    session: PrivasiSession, principal: Principal, breach: Breach, audience: str
) -> BreachNotice:
    """A DPO's approval of the notice as drafted (the ``breach.approve`` permission)."""
    if not principal.can(APPROVE_PERMISSION):
        raise Forbidden(f"approving a breach notice needs the '{APPROVE_PERMISSION}' permission")
    if principal.actor_type != "staff":
        # A person reviews what is sent to the people affected: an API key cannot approve.
        raise Forbidden("a breach notice is approved by a DPO signed in as staff, not an API key")
    if audience not in AUDIENCES:
        raise ValidationFailed(f"audience is one of {', '.join(AUDIENCES)}", field="audience")
    service._require_open(breach)
    notice = get_notice(session, breach, audience)
    if notice.status != "draft":
        raise InvalidTransition(f"the {audience} notice is {notice.status}")
    if digest_of(notice.content) != notice.digest:
        raise Conflict("the notice changed after it was drafted; draft it again")
    notice.status = "approved"
    notice.approved_by = principal.actor
    notice.approved_at = utcnow()
    service.event(
        session, principal, breach, "notice_approved", audience=audience, digest=notice.digest
    )
    return notice


def _require_approved(notice: BreachNotice) -> None:
    if notice.status == "sent":
        raise InvalidTransition(f"the {notice.audience} notice was sent already")
    if notice.status != "approved":
        raise InvalidTransition(f"the {notice.audience} notice must be approved by a DPO first")


def deliver(
    session: PrivasiSession,
    notice: BreachNotice,
    recipient: str,
    channel: str,
    *,
    status: str = "queued",
    message_id: str | None = None,
    error: str | None = None,
) -> BreachDelivery:
    row = BreachDelivery(
        breach_id=notice.breach_id,
        notice_id=notice.id,
        recipient=recipient,
        channel=channel,
        status=status,
        outbox_message_id=message_id,
        error=error,
        finished_at=None if status == "queued" else utcnow(),
    )
    session.add(row)
    return row


def business_user_contacts(db: Database, org_ids: list[str]) -> dict[str, tuple[str, list[str]]]:
    """Each Business User's name and where its breach notices go: the breach contacts of its
    policy in effect (e-mail addresses), else its DPOs and owners."""
    out: dict[str, tuple[str, list[str]]] = {}
    for org_id in org_ids:
        with db.session(org_id) as session:
            org = orgs.get_org(session, org_id)
            emails: list[str] = []
            try:
                policy = policies.current_policy(session)
                emails = [str(c) for c in policy.breach.contacts if "@" in str(c)]
                dpo = policy.organisation.contacts.dpo
                if dpo is not None and dpo.email not in emails:
                    emails.append(dpo.email)
            except NotFound:
                emails = []
            if not emails:
                emails = [
                    s.email
                    for s in orgs.list_staff(session)
                    if s.active and s.role in ("dpo", "owner")
                ]
            out[org_id] = (org.name, emails)
    return out


def hosted_business_users(db: Database, org_id: str) -> list[tuple[str, str]]:
    """(id, name) of the organisations hosted by this processor under an active grant."""
    return [(o.id, o.name) for o in orgs.hosted_orgs(db, org_id)]


def business_users_for(db: Database, org_id: str, chosen: list[str] | None) -> list[str]:
    """The Business Users a processor's breach concerns: those chosen, each one hosted under
    an active grant (no other organisation is ever told), or every hosted one by default."""
    hosted = [i for i, _ in hosted_business_users(db, org_id)]
    if not chosen:
        return hosted
    unknown = [i for i in chosen if i not in hosted]
    if unknown:
        raise ValidationFailed(
            "only organisations hosted under an active grant can be told of a breach",
            field="business_user_org_ids",
        )
    return list(dict.fromkeys(chosen))


def send(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    audience: str,
    *,
    db: Database | None = None,
    submission: str | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Send an approved notice: to every affected person through the outbox, to each affected
    Business User (``db`` is needed to read their contacts), or, for the authority, record that
    staff submitted the exported document (``submission``: where and under which reference)."""
    if audience not in AUDIENCES:
        raise ValidationFailed(f"audience is one of {', '.join(AUDIENCES)}", field="audience")
    service._require_open(breach)
    notice = get_notice(session, breach, audience)
    _require_approved(notice)
    policy = policies.current_policy(session)
    if audience != "business_users" and "business_users" in service.required_clocks(breach):
        first = session.scalar(
            select(BreachNotice).where(
                BreachNotice.breach_id == breach.id, BreachNotice.audience == "business_users"
            )
        )
        if first is None or first.sent_at is None:
            raise InvalidTransition("as a processor, tell the affected Business Users first")
    if audience == "subjects":
        if not affected.affected_rows(session, breach):
            raise InvalidTransition("no affected subjects recorded: discover or import them first")
        from . import dispatch

        # The first batch goes at once; a job sends the rest, batch by batch.
        stats = dispatch.dispatch_subjects(session, breach, notice, policy)
        stats["remaining"] = dispatch.schedule_rest(session, breach, notice)
    elif audience == "business_users":
        if db is None:
            raise ValueError("sending to Business Users needs the database")
        if not breach.business_user_org_ids:
            raise InvalidTransition("no affected Business Users chosen for this breach")
        # Checked again at sending: a grant revoked since the breach was recorded ends it here.
        business_users_for(db, breach.org_id, breach.business_user_org_ids)
        stats = {"email": 0, "unreachable": 0}
        contacts = business_user_contacts(db, breach.business_user_org_ids)
        for org_id, (name, emails) in contacts.items():
            for i, email in enumerate(emails[:5]):
                message = notify.enqueue(
                    session,
                    channel="email",
                    template=TEMPLATES["business_users"],
                    lang=breach.notice_lang,
                    to=email,
                    params=message_params(notice, breach.categories, name),
                    dedupe_key=f"breach:{notice.id}:{org_id}:{i}",
                )
                deliver(
                    session, notice, org_id, f"email{i}" if i else "email", message_id=message.id
                )
                stats["email"] += 1
            if not emails:
                deliver(session, notice, org_id, "none", status="unreachable")
                stats["unreachable"] += 1
    else:
        text = (submission or "").strip()
        if not 1 <= len(text) <= service.MAX_TEXT:
            raise ValidationFailed(
                "say how and where the authority's notice was submitted (a reference)",
                field="submission",
            )
        notice.submission = text
        deliver(session, notice, "authority", "manual", status="submitted")
        stats = {"submitted": 1}
    notice.status = "sent"
    notice.sent_by = principal.actor
    notice.sent_at = now or utcnow()
    if breach.status in ("detected", "confirmed"):
        breach.status = "notifying"
    service.event(session, principal, breach, "notice_sent", audience=audience, counts=stats)
    return stats


def deliveries(session: PrivasiSession, breach: Breach) -> list[BreachDelivery]:
    return list(
        session.scalars(
            select(BreachDelivery)
            .where(BreachDelivery.breach_id == breach.id)
            .order_by(BreachDelivery.queued_at, BreachDelivery.id)
        )
    )


def delivery_counts(session: PrivasiSession, breach: Breach) -> dict[str, dict[str, int]]:
    """Per audience, how many deliveries are in each state."""
    audience_of = {n.id: n.audience for n in notices_of(session, breach)}
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(BreachDelivery.notice_id, BreachDelivery.status, func.count())
        .where(BreachDelivery.breach_id == breach.id)
        .group_by(BreachDelivery.notice_id, BreachDelivery.status)
    )
    for notice_id, status, count in rows:
        bucket = out.setdefault(audience_of.get(notice_id, "?"), {})
        bucket[status] = bucket.get(status, 0) + count
    return out


def track(session: PrivasiSession, now: datetime | None = None) -> int:
    """Bring deliveries up to date with their outbox messages (a failed message retried from
    the outbox counts again once it is sent); the timeline gets one line per notice when all its
    messages are finished. Safe to run any number of times."""
    now = now or utcnow()
    changed = 0
    rows = list(
        session.scalars(
            select(BreachDelivery)
            .where(
                BreachDelivery.status.in_(("queued", "failed")),
                BreachDelivery.outbox_message_id.is_not(None),
            )
            .limit(5000)
        )
    )
    touched: set[str] = set()
    for row in rows:
        assert row.outbox_message_id is not None
        try:
            message = notify.message_status(session, row.outbox_message_id)
        except NotFound:
            message = None
        if message is None:
            status, error, finished = "failed", "message gone", now
        elif message.status == "sent":
            status, error, finished = "sent", None, message.sent_at or now
        elif message.status in ("failed", "cancelled"):
            status, error = "failed", message.last_error or message.status
            finished = message.finished_at or now
        else:
            status, error, finished = "queued", None, None
        if (status, error) == (row.status, row.error):
            continue
        row.status, row.error, row.finished_at = status, error, finished
        changed += 1
        touched.add(row.notice_id)
    session.flush()
    for notice_id in touched:
        _maybe_finished(session, notice_id)
    return changed


def _maybe_finished(session: PrivasiSession, notice_id: str) -> None:
    notice = session.get(BreachNotice, notice_id)
    if notice is None:
        return
    rows = list(
        session.scalars(select(BreachDelivery).where(BreachDelivery.notice_id == notice_id))
    )
    if any(r.status == "queued" for r in rows):
        return
    breach = service.get(session, notice.breach_id)
    principal = orgs.system_principal(breach.org_id, "breach-delivery")
    stats: dict[str, int] = {}
    for row in rows:
        stats[row.status] = stats.get(row.status, 0) + 1
    service.event(
        session, principal, breach, "notice_delivered", audience=notice.audience, counts=stats
    )
