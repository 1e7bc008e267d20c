"""Rights requests, their execution tasks, the per-organisation number sequence and the
suppression list kept after an erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow

REQUEST_TYPES = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "withdraw_consent",
    "automated_decision_objection",
)
STATUSES = (
    "received",
    "verifying",
    "in_progress",
    "awaiting_requester",
    "completed",
    "denied",
    "cancelled",
)
OPEN_STATUSES = ("received", "verifying", "in_progress", "awaiting_requester")
CHANNELS = ("api", "privacy_center", "email", "whatsapp", "staff", "meta")
REQUESTER_KINDS = ("subject", "guardian", "agent")
TASK_STATUSES = ("pending", "running", "waiting", "done", "failed", "skipped")


class RightsRequest(TenantMixin, Base):
    __tablename__ = "rights_requests"
    __table_args__ = (
        UniqueConstraint("org_id", "number", name="uq_rights_requests_org_number"),
        Index("ix_rights_requests_org_status_due", "org_id", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(24), default="received")
    subject_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    channel: Mapped[str] = mapped_column(String(24))
    requester_kind: Mapped[str] = mapped_column(String(16), default="subject")
    # Unused for new requests: the note is sealed with the details (it may name a person).
    requester_note: Mapped[str | None] = mapped_column(Text, default=None)
    # A guardian known as a subject: codes and answers go to them, not to the minor.
    requester_subject_id: Mapped[str | None] = mapped_column(String(36), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    deadline_basis: Mapped[str] = mapped_column(String(40), default="")
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    verification_method: Mapped[str | None] = mapped_column(String(32), default=None)
    verification_note: Mapped[str | None] = mapped_column(Text, default=None)
    challenge_id: Mapped[str | None] = mapped_column(String(36), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    # Time spent waiting for the requester: shown to staff; the legal clock never pauses.
    waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    waiting_seconds: Mapped[int] = mapped_column(Integer, default=0)
    reminded_50_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_90_at: Mapped[datetime | None] = mapped_column(default=None)
    overdue_at: Mapped[datetime | None] = mapped_column(default=None)
    not_before: Mapped[datetime | None] = mapped_column(default=None)  # cancellation window
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    denial_ground: Mapped[str | None] = mapped_column(String(40), default=None)
    # Sealed under the organisation's key (see records.seal_note), like verification_note:
    # why the request was denied or cancelled.
    denial_note: Mapped[str | None] = mapped_column(Text, default=None)
    assigned_to: Mapped[str | None] = mapped_column(String(36), default=None)
    # Request details (rectification values, purposes) sealed with the subject's key, or the
    # organisation's while no subject is matched.
    details_enc: Mapped[str | None] = mapped_column(Text, default=None)
    details_key: Mapped[str | None] = mapped_column(String(8), default=None)  # subject | org
    status_token_hash: Mapped[str] = mapped_column(String(64), index=True)
    status_token_enc: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(2), default="id")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RequestTask(TenantMixin, Base):
    __tablename__ = "rights_tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "system_id", "action", name="uq_rights_tasks_step"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # privasi | manual | sql | http
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What was done (steps finished, kept data and why); ids, field and category names only.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    completed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestCounter(TenantMixin, Base):
    """The last request number given out in an organisation."""

    __tablename__ = "rights_counters"
    __table_args__ = (UniqueConstraint("org_id", name="uq_rights_counters_org"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Suppression(TenantMixin, Base):
    """A blind index of an erased person's identifier: enough to refuse marketing to them again,
    not enough to learn who they were."""

    __tablename__ = "rights_suppressions"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "blind_index", name="uq_rights_suppressions_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    blind_index: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
