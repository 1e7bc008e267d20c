"""Tables of the LLM privacy gateway.

Nothing here holds a personal value in plain text: the placeholder mapping of a conversation is
sealed with the vault, chat logs hold only the pseudonymised text the provider saw, and
conversations are found by a digest of their id, never the id itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class GatewayUpstream(TenantMixin, Base):
    """Where an organisation's chat calls go: one OpenAI-compatible base URL per organisation.

    The provider's API key is a stored secret (``credential`` names it), sealed like every other
    secret of the organisation.
    """

    __tablename__ = "gateway_upstreams"
    __table_args__ = (UniqueConstraint("org_id", name="uq_gateway_upstreams_org"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    base_url: Mapped[str] = mapped_column(String(500))
    credential: Mapped[str | None] = mapped_column(String(128))
    recipient_id: Mapped[str | None] = mapped_column(String(64))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class GatewayConversation(TenantMixin, Base):
    """A conversation's placeholder mapping, bound to the API key that opened it."""

    __tablename__ = "gateway_conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[str] = mapped_column(String(32), index=True)
    recipient_id: Mapped[str] = mapped_column(String(64))
    mapping_sealed: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class GatewayChatLog(TenantMixin, Base):
    """One call as the provider saw it (pseudonymised), kept only if the policy keeps chat logs."""

    __tablename__ = "gateway_chat_logs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    request_text: Mapped[str] = mapped_column(Text)
    response_text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class GatewayRateWindow(TenantMixin, Base):
    """Calls per API key and minute, counted in the database so every process sees one limit."""

    __tablename__ = "gateway_rate_windows"
    __table_args__ = (
        UniqueConstraint("org_id", "api_key_id", "window_start", name="uq_gateway_rate_windows"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    api_key_id: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(index=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
