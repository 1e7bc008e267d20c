"""Which of privasi's own records a rule has run out for: subjects whose whole record has
expired, and consents withdrawn long enough ago. Read in pages by the sweep and the plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from privasi.consent.models import ConsentState
from privasi.db import PrivasiSession
from privasi.policy.schema import Policy, RetentionRule
from privasi.retention import rules
from privasi.retention.models import RetentionClock
from privasi.subjects.models import Subject


def _clocks(session: PrivasiSession, ids: list[str]) -> dict[str, dict[str, datetime]]:
    found: dict[str, dict[str, datetime]] = {i: {} for i in ids}
    rows = session.execute(
        select(RetentionClock.subject_id, RetentionClock.event, RetentionClock.occurred_at).where(
            RetentionClock.subject_id.in_(ids)
        )
    )
    for subject_id, event, at in rows:
        found[subject_id][event] = at
    return found


def _open_requests(session: PrivasiSession, ids: list[str]) -> set[str]:
    from privasi.rights.models import OPEN_STATUSES, RightsRequest

    rows = session.scalars(
        select(RightsRequest.subject_id).where(
            RightsRequest.subject_id.in_(ids), RightsRequest.status.in_(OPEN_STATUSES)
        )
    )
    return {r for r in rows if r is not None}


def expired_subjects(
    session: PrivasiSession,
    policy: Policy,
    rule: RetentionRule,
    moment: datetime,
    held: set[str],
    after: str,
    limit: int,
) -> tuple[list[str], str | None]:
    """One page of subjects whose clock for this rule ran out, and of those the ones whose whole
    record has run out (not held, no open request). Returns (expired ids, last id looked at)."""
    bound = rules.cutoff(rule, moment)
    query = (
        select(Subject.id, Subject.state)
        .join(RetentionClock, RetentionClock.subject_id == Subject.id)
        .where(
            RetentionClock.event == rule.start.value,
            RetentionClock.occurred_at <= bound,
            Subject.id > after,
        )
        .order_by(Subject.id)
        .limit(limit)
    )
    if rule.subject_states:
        query = query.where(Subject.state.in_(rule.subject_states))
    if rule.unless_states:
        query = query.where(Subject.state.not_in(rule.unless_states))
    page = list(session.execute(query))
    if not page:
        return [], None
    ids = [row[0] for row in page]
    clocks = _clocks(session, ids)
    busy = _open_requests(session, ids)
    everything = rules.subject_rules(policy)
    expired = [
        sid
        for sid, state in page
        if sid not in held
        and sid not in busy
        and rules.record_expired(everything, state, clocks[sid], moment)
    ]
    return expired, ids[-1]


def withdrawn(
    session: PrivasiSession,
    purpose: str,
    bound: datetime,
    held: set[str],
    after: str,
    limit: int,
    *,
    counting: bool = False,
) -> Any:
    query = select(ConsentState.subject_id).where(
        ConsentState.purpose == purpose,
        ConsentState.status == "withdrawn",
        ConsentState.changed_at <= bound,
    )
    if held:
        query = query.where(ConsentState.subject_id.not_in(held))
    if counting:
        return session.scalar(select(sa.func.count()).select_from(query.subquery())) or 0
    return list(
        session.scalars(
            query.where(ConsentState.subject_id > after)
            .order_by(ConsentState.subject_id)
            .limit(limit)
        )
    )
