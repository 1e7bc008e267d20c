"""The consent ledger (append-only events with proof) and its stored projection."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class ConsentText(TenantMixin, Base):
    """The exact wording shown when consent was asked, stored once per distinct text."""

    __tablename__ = "consent_texts"
    __table_args__ = (Index("uq_consent_texts_sha", "org_id", "sha256", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(TenantMixin, Base):
    """One grant, withdrawal or expiry. Never updated or deleted (erasure shreds the subject)."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("uq_consent_events_seq", "subject_id", "purpose", "seq", unique=True),
        Index("ix_consent_events_subject_time", "subject_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(String(100))
    # Position in this subject's history for this purpose: the replay order, assigned under the
    # projection row's lock so concurrent writers cannot interleave.
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # granted | withdrawn | expired
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)
    text_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(24))
    source: Mapped[str | None] = mapped_column(String(500), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(500), default=None)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)  # truncated
    guardian_id: Mapped[str | None] = mapped_column(String(36), default=None)
    actor: Mapped[str] = mapped_column(String(100))


class ConsentState(TenantMixin, Base):
    """The current state per subject and purpose: the ledger's last event, kept in step with it
    in the same transaction so a check never replays the ledger."""

    __tablename__ = "consent_states"

    subject_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str | None] = mapped_column(String(16), default=None)  # None: no event yet
    event_id: Mapped[str | None] = mapped_column(String(36), default=None)
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)
    guardian_id: Mapped[str | None] = mapped_column(String(36), default=None)
    changed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when a material policy change needs fresh consent: from ``renew_from`` on, the grant no
    # longer covers the terms (UU PDP Pasal 21(2)); a later grant clears both.
    renew_from: Mapped[date | None] = mapped_column(Date, default=None)
    renew_version: Mapped[int | None] = mapped_column(Integer, default=None)
