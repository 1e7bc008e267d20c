"""A subject's consent evidence (UU PDP Pasal 24): every event with its proof, and the state now.

The API (``GET /api/v1/subjects/{id}/consents``) and the CLI (``privasi consent export``) both
return this document, so what staff hand to the authority is what the API shows.
"""

from __future__ import annotations

from typing import Any

from privasi.consent import service as consent
from privasi.consent.purposes import policy_in_effect
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound
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
