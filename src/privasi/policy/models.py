"""Stored policy versions of an organisation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class PolicyVersion(TenantMixin, Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_policy_versions_org_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published
    schema_version: Mapped[int] = mapped_column(Integer)
    # The file as uploaded (kept for the record) and the validated document at the current
    # schema version (what the rest of privasi reads; upgraded in place when the schema grows).
    source: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    effective_date: Mapped[date | None] = mapped_column(Date, default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(80), default=None)
    published_by: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
