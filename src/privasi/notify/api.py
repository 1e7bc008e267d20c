"""``/api/v1/outbox``: the delivery state of outgoing messages. Thin: rules in the service."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from privasi.audit import service as audit
from privasi.audit.chain import looks_personal
from privasi.errors import ValidationFailed
from privasi.http.deps import Ctx, ctx_for
from privasi.notify import schemas
from privasi.notify import service as notify

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])

Status = Literal["pending", "sending", "sent", "failed", "cancelled"]
Channel = Literal["email", "whatsapp", "webhook"]


@router.get("", response_model=schemas.OutboxPageOut)
def list_messages(
    subject_id: str | None = Query(None, max_length=64, description="one subject's messages"),
    status: Status | None = Query(None),
    template: str | None = Query(None, max_length=64),
    channel: Channel | None = Query(None),
    limit: int = Query(50, ge=1, le=notify.MAX_PAGE),
    cursor: str | None = Query(None, max_length=36, description="next_cursor of the last page"),
    ctx: Ctx = ctx_for("consent.read"),
) -> object:
    """Outgoing messages, newest first, with their delivery state."""
    if subject_id is not None and looks_personal(subject_id):
        # Ids only in URLs: access logs keep them.
        raise ValidationFailed("subject_id must be a subject's id", field="subject_id")
    page = notify.list_messages(
        ctx.session,
        subject_id=subject_id,
        status=status,
        template=template,
        channel=channel,
        limit=limit,
        cursor=cursor,
    )
    return schemas.OutboxPageOut(
        items=[schemas.OutboxMessageOut.model_validate(m) for m in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{message_id}", response_model=schemas.OutboxMessageOut)
def get_message(message_id: str, ctx: Ctx = ctx_for("consent.read")) -> object:
    """One message's delivery state: pending (with the next attempt's time), sent or failed."""
    return notify.message_status(ctx.session, message_id)


@router.post("/{message_id}/retry", response_model=schemas.OutboxMessageOut)
def retry_message(message_id: str, ctx: Ctx = ctx_for("consent.manage")) -> object:
    """Try a failed message again (after fixing the address or the channel's credentials)."""
    message = notify.retry(ctx.session, message_id)
    audit.record(
        ctx.session,
        ctx.principal,
        "outbox.retried",
        subject_id=message.subject_id,
        details={"message_id": message.id, "template": message.template},
        vault=ctx.state("vault"),
    )
    return message


@router.post("/{message_id}/cancel", response_model=schemas.OutboxMessageOut)
def cancel_message(message_id: str, ctx: Ctx = ctx_for("consent.manage")) -> object:
    """Stop a message that has not been sent yet; its content is removed."""
    message = notify.cancel(ctx.session, message_id)
    audit.record(
        ctx.session,
        ctx.principal,
        "outbox.cancelled",
        subject_id=message.subject_id,
        details={"message_id": message.id, "template": message.template},
        vault=ctx.state("vault"),
    )
    return message
