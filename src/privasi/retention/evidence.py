"""What a run leaves for auditors: its evidence, the list of runs, and the report over a period
(``privasi retention report --from --to``) with the audit events that recorded each run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import PrivasiSession
from privasi.errors import NotFound, ValidationFailed
from privasi.retention import holds
from privasi.retention.models import RetentionRun


def runs(
    session: PrivasiSession,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> list[RetentionRun]:
    query = select(RetentionRun).order_by(RetentionRun.started_at.desc(), RetentionRun.id)
    if start is not None:
        query = query.where(RetentionRun.started_at >= start)
    if end is not None:
        query = query.where(RetentionRun.started_at < end)
    return list(session.scalars(query.limit(limit)))


def get_run(session: PrivasiSession, run_id: str) -> RetentionRun:
    run = session.get(RetentionRun, run_id)
    if run is None:
        raise NotFound("retention run not found")
    return run


def evidence(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "rule": run.rule_id,
        "policy_version": run.policy_version,
        "trigger": run.trigger,
        "status": run.status,
        "as_of": run.as_of.isoformat(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "deleted": run.deleted,
        "anonymised": run.anonymised,
        "shredded": run.shredded,
        "batches": run.batches,
        "counts": {k: int(v.get("count", 0)) for k, v in (run.progress or {}).items()},
        "keys_digest": run.digest,
        "error": run.error,
    }


def report(session: PrivasiSession, start: datetime, end: datetime) -> dict[str, Any]:
    """Runs started in [start, end) with their evidence, the audit events that recorded them,
    and the holds in force or released in the window: what an auditor asks for."""
    if end <= start:
        raise ValidationFailed("the end of the period comes after its start", field="to")
    found = list(reversed(runs(session, start=start, end=end, limit=10_000)))
    # A run started in the window may finish after it: its event is looked up by run id.
    events = audit.query(
        session, action="retention.run_finished", since=start, limit=audit.MAX_PAGE
    )
    by_run = {(e.details or {}).get("run_id"): {"seq": e.seq, "mac": e.mac} for e in events.items}
    holds_seen = [
        h
        for h in holds.listing(session, include_released=True)
        if h.created_at < end and (h.released_at is None or h.released_at >= start)
    ]
    totals = {
        "runs": len(found),
        "deleted": sum(r.deleted for r in found),
        "anonymised": sum(r.anonymised for r in found),
        "shredded": sum(r.shredded for r in found),
    }
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "totals": totals,
        "runs": [{**evidence(r), "audit_event": by_run.get(r.id)} for r in found],
        "holds": [
            {
                "id": h.id,
                "scope": h.scope,
                "target": h.target,
                "reason": h.reason,
                "owner": h.owner,
                "placed_at": h.created_at.isoformat(),
                "released_at": h.released_at.isoformat() if h.released_at else None,
            }
            for h in holds_seen
        ],
    }
