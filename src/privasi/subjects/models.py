"""Data subjects, their identifiers (ciphertext + blind index) and guardian links."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class Subject(TenantMixin, Base):
    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str | None] = mapped_column(String(64), default=None)  # the policy's subject kind
    state: Mapped[str] = mapped_column(String(64), default="active")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when staff fold this record into another one: checks follow it there.
    merged_into: Mapped[str | None] = mapped_column(String(36), default=None)
    objections: Mapped[list[str]] = mapped_column(JSON, default=list)  # purpose ids; "*" = all
    # Birth date or declared age, sealed with the subject's key (JSON: {"birth_date"} or
    # {"declared_age", "declared_on"}).
    age_enc: Mapped[str | None] = mapped_column(Text, default=None)
    # The bulk consent check cannot open 10,000 subjects' keys, so the one derived fact it needs
    # is kept in the clear: the day a minor reaches ``minor_age`` (None when not a minor), and
    # the minimum age it was computed for, so a policy with another age triggers a recompute.
    minor_until: Mapped[date | None] = mapped_column(Date, default=None)
    minor_age: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# SQLite without ANALYZE statistics prefers the org_id index (every subject of the organisation)
# over the primary key for "id IN (...) AND org_id = ?", which makes a 10,000-subject lookup scan
# the whole organisation. Statements looking subjects up by id name the primary key's index.
SQLITE_BY_ID = "INDEXED BY sqlite_autoindex_subjects_1"


class SubjectIdentifier(TenantMixin, Base):
    __tablename__ = "subject_identifiers"
    __table_args__ = (
        Index("uq_subject_identifiers_lookup", "org_id", "kind", "blind_index", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    blind_index: Mapped[str] = mapped_column(String(64))
    value_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuardianLink(TenantMixin, Base):
    __tablename__ = "guardian_links"
    __table_args__ = (
        Index("uq_guardian_links_pair", "org_id", "minor_id", "guardian_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    minor_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    guardian_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    relationship: Mapped[str] = mapped_column(String(32))  # parent | guardian | other
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
