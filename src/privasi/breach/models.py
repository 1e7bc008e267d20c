"""Breaches, their timeline, the subjects they affect, their notices and each notice's deliveries.

Texts staff write about an incident (what happened, what is being done) are kept in id and en,
since the notices are drafted from them in both languages. Nothing here holds an e-mail address
or a phone number: affected people are subject ids, and addresses stay in the vault.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("detected", "confirmed", "notifying", "closed", "dismissed")
OPEN_STATUSES = ("detected", "confirmed", "notifying")
AUDIENCES = ("subjects", "authority", "business_users")
NOTICE_STATUSES = ("draft", "approved", "sent")
DELIVERY_STATUSES = ("queued", "sent", "failed", "unreachable", "submitted")


class Breach(TenantMixin, Base):
    __tablename__ = "breaches"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_breaches_org_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    status: Mapped[str] = mapped_column(String(16), default="detected", index=True)
    owner_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # Awareness (UU PDP Pasal 46: the clocks run from here) and the confirmation, kept apart.
    detected_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the data was exposed, as far as it is known: the window affected subjects are found in.
    occurred_from: Mapped[datetime | None] = mapped_column(default=None)
    occurred_until: Mapped[datetime | None] = mapped_column(default=None)
    systems: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"id": ..., "en": ...}: how it happened, and the handling and recovery.
    description: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    measures: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # What people can do to protect themselves (optional in a notice, but expected).
    advice: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The clocks, fixed at creation from the policy's jurisdiction profile.
    clock_basis: Mapped[str] = mapped_column(String(40), default="")
    subjects_due_at: Mapped[datetime]
    authority_due_at: Mapped[datetime]
    business_users_due_at: Mapped[datetime | None] = mapped_column(default=None)
    business_user_org_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"subjects:50": iso time, ...}: each escalation happens once.
    escalations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    notice_lang: Mapped[str] = mapped_column(String(2), default="id")
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    close_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BreachEvent(TenantMixin, Base):
    """One line of the breach's timeline: what was done, when, by whom (ids and counts only)."""

    __tablename__ = "breach_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    breach_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("breaches.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BreachSubject(TenantMixin, Base):
    """A subject the breach affects, the categories of theirs it touched and how it was found."""

    __tablename__ = "breach_subjects"
    __table_args__ = (UniqueConstraint("breach_id", "subject_id", name="uq_breach_subjects_pair"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    breach_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("breaches.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(36))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16))  # data_map | import
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    specific: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BreachNotice(TenantMixin, Base):
    """The notice to one audience, drafted from the breach, approved by a DPO, then sent."""

    __tablename__ = "breach_notices"
    __table_args__ = (UniqueConstraint("breach_id", "audience", name="uq_breach_notices_audience"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    breach_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("breaches.id", ondelete="CASCADE"), index=True
    )
    audience: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The Pasal 46(2) content the message templates are filled with, frozen at approval.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    digest: Mapped[str] = mapped_column(String(64), default="")
    drafted_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_by: Mapped[str | None] = mapped_column(String(100), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # For the authority: how and where it was submitted (a portal reference, a letter number).
    submission: Mapped[str | None] = mapped_column(Text, default=None)


class BreachDelivery(TenantMixin, Base):
    """One recipient of a notice on one channel, and what became of the message."""

    __tablename__ = "breach_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "recipient", "channel", name="uq_breach_deliveries_target"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    breach_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("breaches.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("breach_notices.id", ondelete="CASCADE"), index=True
    )
    # A subject id, a Business User's organisation id, or "authority".
    recipient: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(16))  # email | whatsapp | none | manual
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    outbox_message_id: Mapped[str | None] = mapped_column(String(36), default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
