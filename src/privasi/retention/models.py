"""Retention tables: subjects' lifecycle clocks, legal holds and the runs that enforce the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class RetentionClock(TenantMixin, Base):
    """When an event that starts a retention period happened for a subject (account closed,
    contract ended, last interaction ...). One row per subject and event; a later
    ``last_interaction`` moves it forward, the others keep the time first recorded."""

    __tablename__ = "retention_clocks"
    __table_args__ = (
        Index("uq_retention_clocks_subject_event", "org_id", "subject_id", "event", unique=True),
        Index("ix_retention_clocks_event_at", "org_id", "event", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class LegalHold(TenantMixin, Base):
    """Keeps data that retention or erasure would otherwise end: a subject, a category or a
    system, until released. The target is an id or a name, never a personal value."""

    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(16))  # subject | category | system
    target: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    placed_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    released_by: Mapped[str | None] = mapped_column(String(100), default=None)
    release_note: Mapped[str | None] = mapped_column(Text, default=None)


class RetentionRun(TenantMixin, Base):
    """One rule enforced at one moment (``as_of``) across every system it reaches.

    ``progress`` keeps, per target, the last key done and whether it is finished; ``pending`` the
    keys of the batch being applied in a business database, written before the batch runs, so a
    process killed anywhere lets the next one finish the batch and count it once.
    """

    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_started", "org_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(String(100))
    policy_version: Mapped[int | None] = mapped_column(Integer, default=None)
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule
    actor: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    as_of: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    leased_by: Mapped[str | None] = mapped_column(String(100), default=None)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    anonymised: Mapped[int] = mapped_column(Integer, default=0)
    shredded: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    digest: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
