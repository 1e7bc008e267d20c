"""Plain views of a breach (dicts of ids, times and counts) shared by the API, the CLI and the
staff pages, so the three show the same clocks and numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from privasi.db import PrivasiSession, utcnow
from privasi.orgs import service as orgs

from . import affected, notices, service
from .models import Breach, BreachNotice


def clock_views(session: PrivasiSession, breach: Breach, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "started_at": c.started_at,
            "due_at": c.due_at,
            "due_at_local": service.local_time(session, c.due_at),
            "met_at": c.met_at,
            "time_left_seconds": c.time_left(now),
            "share_used": round(c.share_used(now), 1),
            "overdue": c.overdue(now),
        }
        for c in service.clocks(session, breach)
    ]


def summary(session: PrivasiSession, breach: Breach, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    clocks = clock_views(session, breach, now)
    due = min((c for c in clocks if c["met_at"] is None), key=lambda c: c["due_at"], default=None)
    return {
        "id": breach.id,
        "reference": service.reference(breach),
        "title": breach.title,
        "severity": breach.severity,
        "status": breach.status,
        "owner_id": breach.owner_id,
        "detected_at": breach.detected_at,
        "confirmed_at": breach.confirmed_at,
        "occurred_from": breach.occurred_from,
        "occurred_until": breach.occurred_until,
        "systems": list(breach.systems),
        "categories": list(breach.categories),
        "clock_basis": breach.clock_basis,
        "clocks": clocks,
        "next_due_at": due["due_at"] if due else None,
        "time_left_seconds": due["time_left_seconds"] if due else None,
        "overdue": bool(due and due["overdue"]),
        "business_user_org_ids": list(breach.business_user_org_ids),
        "created_at": breach.created_at,
        "closed_at": breach.closed_at,
    }


def notice_view(session: PrivasiSession, notice: BreachNotice) -> dict[str, Any]:
    org = orgs.get_org(session, notice.org_id)
    return {
        "audience": notice.audience,
        "status": notice.status,
        "digest": notice.digest,
        "drafted_at": notice.drafted_at,
        "approved_by": notice.approved_by,
        "approved_at": notice.approved_at,
        "sent_by": notice.sent_by,
        "sent_at": notice.sent_at,
        "submission": notice.submission,
        "preview": {
            lang: notices.preview(notice, lang, org.name, org.time_zone) for lang in service.LANGS
        },
    }


def detail(session: PrivasiSession, breach: Breach, now: datetime | None = None) -> dict[str, Any]:
    return {
        **summary(session, breach, now),
        "description": dict(breach.description),
        "measures": dict(breach.measures),
        "advice": dict(breach.advice),
        "close_reason": breach.close_reason,
        "escalations": dict(breach.escalations or {}),
        "affected": affected.counts(session, breach),
        "notices": [
            {k: v for k, v in notice_view(session, n).items() if k != "preview"}
            for n in notices.notices_of(session, breach)
        ],
        "deliveries": notices.delivery_counts(session, breach),
        "timeline": [
            {"at": e.at, "kind": e.kind, "actor": e.actor, "note": e.note, "details": e.details}
            for e in service.timeline(session, breach)
        ],
    }


def delivery_views(session: PrivasiSession, breach: Breach) -> list[dict[str, Any]]:
    audience_of = {n.id: n.audience for n in notices.notices_of(session, breach)}
    return [
        {
            "audience": audience_of.get(d.notice_id),
            "recipient": d.recipient,
            "channel": d.channel,
            "status": d.status,
            "outbox_message_id": d.outbox_message_id,
            "error": d.error,
            "queued_at": d.queued_at,
            "finished_at": d.finished_at,
        }
        for d in notices.deliveries(session, breach)
    ]
