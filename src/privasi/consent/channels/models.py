"""Tables of the consent channels: verification codes and the WhatsApp deliveries already seen.

Neither holds an identifier in plain text: subjects are referred to by id, WhatsApp deliveries
by Meta's message id (or a digest), client addresses only as truncated networks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class VerificationChallenge(TenantMixin, Base):
    """One code sent to prove control of an address on record (see ``consent.verification``)."""

    __tablename__ = "verification_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    purpose: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    code_sealed: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    client_network: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]


class WhatsAppDelivery(TenantMixin, Base):
    """A webhook item already acted on: Meta retries deliveries, and a retry must not act twice."""

    __tablename__ = "whatsapp_deliveries"
    __table_args__ = (UniqueConstraint("org_id", "item_key", name="uq_whatsapp_deliveries_item"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    item_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
