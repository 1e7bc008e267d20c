"""``GET /api/v1/audit``: the organisation's audit trail, newest first; rules in the service."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query

from privasi.audit import schemas
from privasi.audit import service as audit
from privasi.audit.chain import looks_personal
from privasi.errors import ValidationFailed
from privasi.http.deps import Ctx, ctx_for

router = APIRouter(prefix="/api/v1", tags=["audit"])


def _aware(moment: datetime | None) -> datetime | None:
    # A time given without a zone is read as UTC, the zone events are stored in.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@router.get("/audit", response_model=schemas.AuditPageOut)
def list_audit(
    subject_id: str | None = Query(None, max_length=64),
    actor: str | None = Query(None, max_length=100, description="e.g. staff:<id>, api_key:<id>"),
    action: str | None = Query(None, max_length=100, description="exact, or a prefix: secret.*"),
    since: datetime | None = Query(None, description="events at or after this time"),
    until: datetime | None = Query(None, description="events before this time"),
    limit: int = Query(50, ge=1, le=audit.MAX_PAGE),
    cursor: str | None = Query(None, max_length=20, description="next_cursor of the last page"),
    ctx: Ctx = ctx_for("audit.read"),
) -> object:
    if subject_id is not None and looks_personal(subject_id):
        # The trail is searched by subject id only; identifiers are looked up through subjects.
        raise ValidationFailed("subject_id must be a subject's id", field="subject_id")
    page = audit.query(
        ctx.session,
        subject_id=subject_id,
        actor=actor,
        action=action,
        since=_aware(since),
        until=_aware(until),
        limit=limit,
        cursor=cursor,
    )
    # Who looked at the trail is itself part of the trail (filter names only, no values).
    filters = {"subject_id": subject_id, "actor": actor, "action": action, "since": since}
    used = sorted(name for name, value in filters.items() if value is not None)
    audit.record(
        ctx.session,
        ctx.principal,
        "audit.read",
        subject_id=subject_id,
        details={"filters": used, "returned": len(page.items)},
        vault=ctx.state("vault"),
    )
    return schemas.AuditPageOut(
        items=[schemas.AuditEventOut.model_validate(e) for e in page.items],
        next_cursor=page.next_cursor,
    )
