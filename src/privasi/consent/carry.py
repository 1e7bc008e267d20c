"""Carrying consent over when staff merge two records of the same person.

The ledger is append-only, so the merged-away subject's events stay where they are, as its
evidence. For every purpose where that subject's state is newer than the kept subject's, one
event is appended to the kept subject with the same proof (notice version, text, channel,
method, source, guardian): the newest choice the person made is the one that counts.
"""

from __future__ import annotations

from privasi.consent import service as consent
from privasi.consent.purposes import NotConsentBased, UnknownPurpose
from privasi.db import PrivasiSession
from privasi.errors import PrivasiError
from privasi.orgs.service import Principal


def carry_over(
    session: PrivasiSession, principal: Principal, keep_id: str, other_id: str
) -> dict[str, str]:
    """Purposes carried over to ``keep_id``, each with the merged-away event it came from.
    Purposes the policy no longer bases on consent, or that a minor's guardian must give
    again, are left out."""
    kept = {s.purpose: s for s in consent.current_states(session, keep_id)}
    carried: dict[str, str] = {}
    for state in consent.current_states(session, other_id):
        if state.status is None or state.event_id is None:
            continue
        mine = kept.get(state.purpose)
        newer_here = (
            mine is not None
            and mine.changed_at is not None
            and state.changed_at is not None
            and mine.changed_at >= state.changed_at
        )
        if newer_here:
            continue
        source = consent.get_event(session, state.event_id)
        text = consent.texts(session, [source.text_sha256]).get(source.text_sha256)
        proof = consent.Proof(
            policy_version=source.policy_version,
            text=text.text if text is not None else "",
            language=source.language,
            channel=source.channel,
            method=source.method,
            source=source.source,
            user_agent=source.user_agent,
            client_addr=source.client_addr,
            guardian_id=source.guardian_id,
        )
        try:
            consent.record_many(session, principal, [keep_id], state.purpose, state.status, proof)
        except (NotConsentBased, UnknownPurpose):
            continue
        except PrivasiError:
            # A grant the kept record cannot take as it stands (a minor whose guardian is not
            # linked to it): the person is asked again rather than given a consent by accident.
            continue
        carried[state.purpose] = source.id
    return carried
