"""The outbox table: one row per message, written in the transaction of the change that causes it.

The recipient and the template parameters are personal data, so they are kept as one ciphertext
(``payload``): under the subject's own key when the message is about a subject (erasure makes a
queued message unreadable, so it is never sent), else under the organisation's secrets key. The
payload is wiped once the message is sent or given up; the row stays as delivery evidence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class OutboxMessage(TenantMixin, Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("org_id", "dedupe_key", name="uq_outbox_messages_org_dedupe"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_org_subject", "org_id", "subject_id"),
        Index("ix_outbox_messages_org_created", "org_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(16))  # email | whatsapp | webhook
    template: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # "subject" (sealed with the subject's key) or "org" (the organisation's secrets key)
    payload_key: Mapped[str] = mapped_column(String(8))
    payload: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    # A short code such as "smtp 451" or "http 503", never a server's text (it may quote addresses)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
