"""Request and response models of the consent API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from privasi.subjects.schemas import IdentifierKind

MAX_SUBJECTS = 10_000


class ProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_version: int | None = Field(None, description="default: the version in effect")
    text: str = Field("", max_length=20_000, description="the exact words the person saw")
    language: Literal["id", "en"]
    channel: Literal["web", "whatsapp", "email", "sms", "api", "staff", "in_app"]
    method: str = Field(
        max_length=24, description="checkbox, button, keyword, one-click, gpc, form, ..."
    )
    source: str | None = Field(None, max_length=2000, description="URL or form id")
    user_agent: str | None = Field(None, max_length=2000)
    client_addr: str | None = Field(
        None, max_length=64, description="the person's IP address; stored truncated (/24, /48)"
    )
    guardian_id: str | None = Field(None, max_length=36)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str | None = Field(None, max_length=36)
    identifiers: dict[IdentifierKind, str] | None = Field(
        None, description="instead of subject_id: the subject is found or created"
    )
    purpose: str = Field(min_length=1, max_length=100)
    action: Literal["granted", "withdrawn"]
    proof: ProofIn

    @model_validator(mode="after")
    def _one_subject(self) -> EventIn:
        if (self.subject_id is None) == (not self.identifiers):
            raise ValueError("give either subject_id or identifiers")
        return self


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_ids: list[str] = Field(min_length=1, max_length=MAX_SUBJECTS)
    purpose: str = Field(min_length=1, max_length=100)
    action: Literal["granted", "withdrawn"]
    proof: ProofIn


class ProofOut(BaseModel):
    policy_version: int | None
    text: str | None
    text_sha256: str
    language: str
    channel: str
    method: str
    source: str | None
    user_agent: str | None
    client_addr: str | None
    guardian_id: str | None


class EventOut(BaseModel):
    id: str
    subject_id: str
    purpose: str
    action: str
    seq: int
    occurred_at: datetime
    actor: str
    proof: ProofOut
    withdrawal_consequences: dict[str, str] | None = None


class BatchOut(BaseModel):
    purpose: str
    action: str
    count: int
    event_ids: list[str]
    unknown_subject_ids: list[str]


class IdentifierRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=320)


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=100)
    subject_ids: list[str] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    identifiers: list[IdentifierRef] = Field(default_factory=list, max_length=MAX_SUBJECTS)

    @model_validator(mode="after")
    def _bounded(self) -> CheckIn:
        total = len(self.subject_ids) + len(self.identifiers)
        if total == 0:
            raise ValueError("give subject_ids or identifiers")
        if total > MAX_SUBJECTS:
            raise ValueError(f"at most {MAX_SUBJECTS} subjects per check")
        return self


class DecisionOut(BaseModel):
    subject_id: str | None
    purpose: str
    allowed: bool
    reason: str


class CheckOut(BaseModel):
    purpose: str
    decisions: list[DecisionOut] = Field(
        description="subject_ids first, then identifiers, each in the order given"
    )


class PurposeOut(BaseModel):
    id: str
    kind: str | None
    name: str | None
    description: str | None
    withdrawal_consequences: str | None
    keyword_opt_in: bool


class Evidence(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: str
    subject_id: str
    organisation_id: str
    generated_at: str
    guardians: list[dict[str, Any]]
    current: list[dict[str, Any]]
    events: list[dict[str, Any]]


class PurposeSummary(BaseModel):
    purpose: str
    granted: int
    withdrawn: int
    expired: int
    renewal_marked: int = Field(description="standing grants that need renewal after a change")


class LedgerPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
