"""A subject's consent evidence (UU PDP Pasal 24): every event with its proof, and the state now.

The API (``GET /api/v1/subjects/{id}/consents``) and the CLI (``privasi consent export``) both
return this document, so what staff hand to the authority is what the API shows. The DPO's
overview per purpose and a page through the whole ledger are here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select, tuple_

from privasi.consent import service as consent
from privasi.consent.models import ConsentEvent, ConsentState
from privasi.consent.purposes import policy_in_effect
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.subjects import service as subjects

FORMAT = "privasi.consent-evidence/1"


def event_json(event: consent.ConsentEvent, text: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "purpose": event.purpose,
        "action": event.action,
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "proof": {
            "policy_version": event.policy_version,
            "text": text,
            "text_sha256": event.text_sha256,
            "language": event.language,
            "channel": event.channel,
            "method": event.method,
            "source": event.source,
            "user_agent": event.user_agent,
            "client_addr": event.client_addr,
            "guardian_id": event.guardian_id,
        },
    }


def export(session: PrivasiSession, subject_id: str) -> dict[str, Any]:
    subject = subjects.get_subject(session, subject_id)
    events = consent.history(session, subject.id)
    texts = consent.texts(session, (e.text_sha256 for e in events))
    states = consent.current_states(session, subject.id)
    decisions: dict[str, consent.Decision] = {}
    if states:
        try:
            policy_in_effect(session)
        except NotFound:  # no policy in effect: the history still stands on its own
            pass
        else:
            for state in states:
                [checked] = consent.check(session, [subject.id], state.purpose)
                decisions[state.purpose] = checked
    current = []
    for state in states:
        decision = decisions.get(state.purpose)
        current.append(
            {
                "purpose": state.purpose,
                "status": state.status,
                "since": state.changed_at.isoformat() if state.changed_at else None,
                "event_id": state.event_id,
                "policy_version": state.policy_version,
                "guardian_id": state.guardian_id,
                "renew_from": state.renew_from.isoformat() if state.renew_from else None,
                "allowed_now": decision.allowed if decision else None,
                "reason_now": decision.reason if decision else None,
            }
        )
    return {
        "format": FORMAT,
        "subject_id": subject.id,
        "organisation_id": subject.org_id,
        "generated_at": utcnow().isoformat(),
        "guardians": [
            {"guardian_id": link.guardian_id, "relationship": link.relationship}
            for link in subjects.guardians_of(session, subject.id)
        ],
        "current": current,
        "events": [
            event_json(e, texts[e.text_sha256].text if e.text_sha256 in texts else None)
            for e in events
        ],
    }


def summary(session: PrivasiSession) -> list[dict[str, Any]]:
    """Per purpose, how many subjects' consent stands, was withdrawn or expired, and how many
    grants wait for renewal after a material change: the DPO's overview, from the projection."""
    rows = session.execute(
        select(
            ConsentState.purpose,
            ConsentState.status,
            func.count(),
            func.count(ConsentState.renew_from),
        )
        .where(ConsentState.status.is_not(None))
        .group_by(ConsentState.purpose, ConsentState.status)
        .order_by(ConsentState.purpose)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for purpose, status, count, renewing in rows:
        entry = out.setdefault(
            purpose,
            {"purpose": purpose, "granted": 0, "withdrawn": 0, "expired": 0, "renewal_marked": 0},
        )
        entry[str(status)] = int(count)
        if status == "granted":
            entry["renewal_marked"] = int(renewing)
    return list(out.values())


def ledger_page(
    session: PrivasiSession,
    *,
    purpose: str | None = None,
    action: str | None = None,
    since: Any = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[consent.ConsentEvent], str | None]:
    """Ledger events, newest first, for reports; ``cursor`` is the last page's ``next_cursor``."""
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit must be between 1 and 1000", field="limit")
    stmt = select(ConsentEvent)
    if purpose is not None:
        stmt = stmt.where(ConsentEvent.purpose == purpose)
    if action is not None:
        stmt = stmt.where(ConsentEvent.action == action)
    if since is not None:
        stmt = stmt.where(ConsentEvent.occurred_at >= since)
    if cursor:
        stamp, _, event_id = cursor.partition("|")
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise ValidationFailed("cursor is not valid", field="cursor") from None
        stamp_param = literal(when, ConsentEvent.occurred_at.type)
        stmt = stmt.where(
            tuple_(ConsentEvent.occurred_at, ConsentEvent.id) < tuple_(stamp_param, event_id)
        )
    rows = list(
        session.scalars(
            stmt.order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    return rows, (f"{last.occurred_at.isoformat()}|{last.id}" if last else None)
