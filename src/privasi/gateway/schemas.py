"""Request and response models of the gateway's configuration routes (never the provider's key)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from privasi.gateway.models import GatewayUpstream


class UpstreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(max_length=500, examples=["https://api.groq.com/openai/v1"])
    api_key: str | None = Field(
        None, min_length=1, max_length=4096, description="stored sealed; never shown again"
    )
    recipient: str | None = Field(
        None,
        max_length=64,
        description="the AI provider's recipient id in the policy (groq, openai ...); may be left "
        "out when the policy declares exactly one AI provider",
    )
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000)


class UpstreamOut(BaseModel):
    configured: bool
    base_url: str | None = None
    recipient: str | None = None
    key_stored: bool = False
    rate_limit_per_minute: int | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: GatewayUpstream | None) -> UpstreamOut:
        if row is None:
            return cls(configured=False)
        return cls(
            configured=True,
            base_url=row.base_url,
            recipient=row.recipient_id,
            key_stored=row.credential is not None,
            rate_limit_per_minute=row.rate_limit_per_minute,
            updated_at=row.updated_at,
        )


class ChatLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    recipient_id: str
    model: str
    request_text: str
    response_text: str
    outcome: str
    created_at: datetime
    expires_at: datetime


class ChatLogList(BaseModel):
    items: list[ChatLogOut]


class ConversationEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: str = Field(
        min_length=1, max_length=200, description="the Privasi-Conversation id to end"
    )
