"""Response models of the outbox API: delivery state only, never the address or the content."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OutboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str = Field(description="email, whatsapp or webhook")
    template: str
    lang: str
    subject_id: str | None
    status: str = Field(description="pending, sending, sent, failed or cancelled")
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = Field(description="when the next attempt is due (pending)")
    last_error: str | None = Field(description="a short code such as 'smtp 451' or 'http 503'")
    provider_message_id: str | None = Field(
        description="the e-mail Message-ID or the WhatsApp message id, once sent"
    )
    created_at: datetime
    sent_at: datetime | None
    finished_at: datetime | None


class OutboxPageOut(BaseModel):
    items: list[OutboxMessageOut]
    next_cursor: str | None
