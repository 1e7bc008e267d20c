"""Audit tables: the per-organisation chain of events, its head, and stored checkpoints.

Rows are only ever inserted (the head row is the one exception: it moves with the chain). Nothing
here holds personal data in plain text: subjects appear by their random id only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class AuditEvent(TenantMixin, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("org_id", "seq", name="uq_audit_events_org_seq"),
        Index("ix_audit_events_org_subject", "org_id", "subject_id"),
        Index("ix_audit_events_org_time", "org_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    purpose: Mapped[str | None] = mapped_column(String(100), default=None)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    count: Mapped[int | None] = mapped_column(Integer, default=None)
    # SHA-256 over the sorted subject ids of a bulk call (see ``subjects_digest``)
    subjects_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    key_id: Mapped[str] = mapped_column(String(40))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditHead(TenantMixin, Base):
    """The last event of an organisation's chain; writers lock it so the chain cannot fork."""

    __tablename__ = "audit_heads"
    __table_args__ = (UniqueConstraint("org_id", name="uq_audit_heads_org"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    mac: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(TenantMixin, Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    # HMAC under the audit key over (org, seq, mac): a checkpoint file cannot be forged either
    signature: Mapped[str] = mapped_column(Text)
