"""HTTP routes of the breach register. Thin: the rules live in the breach services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from privasi.db import utcnow
from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent

from . import affected, documents, notices, schemas, service, views
from .models import Breach

router = APIRouter(prefix="/api/v1/breaches", tags=["breaches"])


def _detail(ctx: Ctx, breach: Breach) -> dict[str, Any]:
    return views.detail(ctx.session, breach)


@router.post("", response_model=schemas.BreachDetail, status_code=201)
def create(body: schemas.BreachIn, ctx: Ctx = ctx_for("breach.manage")) -> JSONResponse:
    """Record an incident; its notice clocks start at ``detected_at``."""

    def produce() -> tuple[int, object]:
        breach = service.create(
            ctx.session,
            ctx.principal,
            title=body.title,
            detected_at=body.detected_at,
            confirmed_at=body.confirmed_at,
            occurred_from=body.occurred_from,
            occurred_until=body.occurred_until,
            severity=body.severity,
            systems=body.systems,
            categories=body.categories,
            description=body.description.plain() if body.description else None,
            measures=body.measures.plain() if body.measures else None,
            advice=body.advice.plain() if body.advice else None,
            owner_id=body.owner_id,
            business_user_org_ids=notices.business_users_for(
                ctx.state("db"), ctx.org_id, body.business_user_org_ids
            ),
            business_user_hours=ctx.settings.breach_business_user_hours,
        )
        return 201, _detail(ctx, breach)

    return run_idempotent(ctx, body, produce)


@router.get("", response_model=schemas.BreachPage)
def list_breaches(
    open_only: bool = Query(False, alias="open"), ctx: Ctx = ctx_for("breach.read")
) -> object:
    """Breaches, newest first, each with its clocks and the time left on the earliest unmet one."""
    now = utcnow()
    rows = service.list_breaches(ctx.session, open_only=open_only)
    return {"items": [views.summary(ctx.session, b, now) for b in rows]}


@router.get("/business-users", response_model=list[schemas.BusinessUserOut])
def business_users(ctx: Ctx = ctx_for("breach.read")) -> object:
    """Processor mode: the Business Users hosted under an active grant, to choose the affected."""
    hosted = notices.hosted_business_users(ctx.state("db"), ctx.org_id)
    return [{"id": org_id, "name": name} for org_id, name in hosted]


@router.get("/{breach_id}", response_model=schemas.BreachDetail)
def get_breach(breach_id: str, ctx: Ctx = ctx_for("breach.read")) -> object:
    return _detail(ctx, service.get(ctx.session, breach_id))


@router.patch("/{breach_id}", response_model=schemas.BreachDetail)
def update(
    breach_id: str, body: schemas.BreachPatch, ctx: Ctx = ctx_for("breach.manage")
) -> object:
    changes = body.changes()
    if changes.get("business_user_org_ids") is not None:
        changes["business_user_org_ids"] = notices.business_users_for(
            ctx.state("db"), ctx.org_id, changes["business_user_org_ids"]
        )
    breach = service.update(
        ctx.session, ctx.principal, service.get(ctx.session, breach_id), changes
    )
    return _detail(ctx, breach)


@router.post("/{breach_id}/confirm", response_model=schemas.BreachDetail)
def confirm(
    breach_id: str, body: schemas.ConfirmIn | None = None, ctx: Ctx = ctx_for("breach.manage")
) -> object:
    breach = service.get(ctx.session, breach_id)
    service.confirm(ctx.session, ctx.principal, breach, body.confirmed_at if body else None)
    return _detail(ctx, breach)


@router.post("/{breach_id}/notes", response_model=schemas.BreachDetail)
def add_note(breach_id: str, body: schemas.NoteIn, ctx: Ctx = ctx_for("breach.manage")) -> object:
    """An action taken, on the timeline."""
    breach = service.get(ctx.session, breach_id)
    service.add_note(ctx.session, ctx.principal, breach, body.note)
    return _detail(ctx, breach)


@router.get("/{breach_id}/affected")
def affected_counts(breach_id: str, ctx: Ctx = ctx_for("breach.read")) -> object:
    """How many people, per category, with the share of minors and of specific data."""
    return affected.counts(ctx.session, service.get(ctx.session, breach_id))


@router.post("/{breach_id}/affected/discover", response_model=schemas.FoundOut)
def discover(breach_id: str, ctx: Ctx = ctx_for("breach.manage")) -> object:
    """Find the affected subjects from the data map (systems, categories, time window)."""
    breach = service.get(ctx.session, breach_id)
    found = affected.discover(ctx.session, ctx.principal, breach)
    return {**found.as_dict(), "affected": affected.counts(ctx.session, breach)}


@router.post("/{breach_id}/affected/import", response_model=schemas.FoundOut)
def import_list(
    breach_id: str, body: schemas.ImportIn, ctx: Ctx = ctx_for("breach.manage")
) -> object:
    """Add the people a list names, matched by blind index (CSV of e-mails or phone numbers)."""
    breach = service.get(ctx.session, breach_id)
    pairs = affected.parse_list(body.csv)
    found = affected.import_list(ctx.session, ctx.principal, breach, pairs, body.categories)
    return {**found.as_dict(), "affected": affected.counts(ctx.session, breach)}


@router.post("/{breach_id}/notices", response_model=list[schemas.NoticeOut])
def draft_notices(breach_id: str, ctx: Ctx = ctx_for("breach.manage")) -> object:
    """Draft the notices (id and en) from the breach as recorded now."""
    breach = service.get(ctx.session, breach_id)
    drafted = notices.draft(ctx.session, ctx.principal, breach)
    return [views.notice_view(ctx.session, n) for n in drafted]


@router.get("/{breach_id}/notices", response_model=list[schemas.NoticeOut])
def list_notices(breach_id: str, ctx: Ctx = ctx_for("breach.read")) -> object:
    """The notices with their text in id and en, as recipients will read them."""
    breach = service.get(ctx.session, breach_id)
    return [views.notice_view(ctx.session, n) for n in notices.notices_of(ctx.session, breach)]


@router.post("/{breach_id}/notices/{audience}/approve", response_model=schemas.NoticeOut)
def approve(breach_id: str, audience: str, ctx: Ctx = ctx_for("breach.approve")) -> object:
    """A DPO's approval of the notice as drafted."""
    breach = service.get(ctx.session, breach_id)
    return views.notice_view(
        ctx.session, notices.approve(ctx.session, ctx.principal, breach, audience)
    )


@router.post("/{breach_id}/notices/{audience}/send")
def send(
    breach_id: str,
    audience: str,
    body: schemas.SendIn | None = None,
    ctx: Ctx = ctx_for("breach.manage"),
) -> object:
    """Send an approved notice through the outbox (the authority's: record its submission)."""
    breach = service.get(ctx.session, breach_id)
    stats = notices.send(
        ctx.session,
        ctx.principal,
        breach,
        audience,
        db=ctx.state("db"),
        submission=body.submission if body else None,
    )
    return {"audience": audience, "counts": stats}


@router.get("/{breach_id}/deliveries", response_model=list[schemas.DeliveryOut])
def deliveries(breach_id: str, ctx: Ctx = ctx_for("breach.read")) -> object:
    """Each recipient and channel of the sent notices, and what became of the message."""
    return views.delivery_views(ctx.session, service.get(ctx.session, breach_id))


@router.get("/{breach_id}/authority-notice", response_class=PlainTextResponse)
def authority_notice(
    breach_id: str,
    format: str = Query("md", pattern="^(md|html)$"),
    ctx: Ctx = ctx_for("breach.read"),
) -> Response:
    """The authority's notice as a document, in Indonesian and English."""
    breach = service.get(ctx.session, breach_id)
    text = documents.authority_document(ctx.session, ctx.principal, breach, format)
    name = f"{service.reference(breach)}-authority.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "html":
        return HTMLResponse(text, headers=headers)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8", headers=headers)


@router.get("/{breach_id}/evidence")
def evidence(breach_id: str, ctx: Ctx = ctx_for("breach.read")) -> object:
    """The evidence pack: timeline, decisions, notices and delivery results."""
    breach = service.get(ctx.session, breach_id)
    return documents.evidence_pack(ctx.session, ctx.principal, breach)


@router.post("/{breach_id}/close", response_model=schemas.BreachDetail)
def close(breach_id: str, body: schemas.CloseIn, ctx: Ctx = ctx_for("breach.manage")) -> object:
    breach = service.get(ctx.session, breach_id)
    service.close(ctx.session, ctx.principal, breach, body.reason, dismissed=body.dismissed)
    return _detail(ctx, breach)
