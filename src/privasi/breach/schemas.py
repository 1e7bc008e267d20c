"""Request and response models of the breach API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["low", "medium", "high", "critical"]
Audience = Literal["subjects", "authority", "business_users"]


class Localized(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=4000)
    en: str | None = Field(None, max_length=4000)

    def plain(self) -> dict[str, str]:
        return {k: v for k, v in (("id", self.id), ("en", self.en)) if v}


class BreachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=200, description="no personal data")
    detected_at: datetime | None = Field(
        None, description="when the organisation became aware: the clocks start here (default now)"
    )
    confirmed_at: datetime | None = None
    occurred_from: datetime | None = Field(None, description="when the exposure began, if known")
    occurred_until: datetime | None = Field(None, description="when it ended, if known")
    severity: Severity = "medium"
    systems: list[str] = Field(default_factory=list, max_length=100)
    categories: list[str] = Field(default_factory=list, max_length=100)
    description: Localized | None = Field(None, description="how it happened, in id and en")
    measures: Localized | None = Field(None, description="handling and recovery, in id and en")
    advice: Localized | None = Field(None, description="what people can do, in id and en")
    owner_id: str | None = Field(None, max_length=36, description="the staff member in charge")
    business_user_org_ids: list[str] = Field(
        default_factory=list, max_length=1000, description="processor mode: affected Business Users"
    )


class BreachPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    severity: Severity | None = None
    occurred_from: datetime | None = None
    occurred_until: datetime | None = None
    systems: list[str] | None = Field(None, max_length=100)
    categories: list[str] | None = Field(None, max_length=100)
    description: Localized | None = None
    measures: Localized | None = None
    advice: Localized | None = None
    owner_id: str | None = Field(None, max_length=36)
    business_user_org_ids: list[str] | None = Field(None, max_length=1000)

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            out[name] = value.plain() if isinstance(value, Localized) else value
        return out


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed_at: datetime | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(..., min_length=1, max_length=4000)


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csv: str = Field(
        ...,
        min_length=1,
        max_length=5_000_000,
        description="a header naming email, phone, whatsapp or external columns, or one value a line",
    )
    categories: list[str] | None = Field(None, max_length=100)


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission: str | None = Field(
        None, max_length=4000, description="authority: how and where it was submitted"
    )


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=1, max_length=4000)
    dismissed: bool = Field(False, description="true: it turned out not to be a breach")


class ClockOut(BaseModel):
    name: str
    started_at: datetime
    due_at: datetime
    due_at_local: str
    met_at: datetime | None
    time_left_seconds: int
    share_used: float
    overdue: bool


class BreachOut(BaseModel):
    id: str
    reference: str
    title: str
    severity: str
    status: str
    owner_id: str | None
    detected_at: datetime
    confirmed_at: datetime | None
    occurred_from: datetime | None
    occurred_until: datetime | None
    systems: list[str]
    categories: list[str]
    clock_basis: str
    clocks: list[ClockOut]
    next_due_at: datetime | None
    time_left_seconds: int | None
    overdue: bool
    business_user_org_ids: list[str]
    created_at: datetime
    closed_at: datetime | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    note: str | None
    details: dict[str, Any]


class BreachDetail(BreachOut):
    description: dict[str, str]
    measures: dict[str, str]
    advice: dict[str, str]
    close_reason: str | None
    escalations: dict[str, str]
    affected: dict[str, Any]
    notices: list[dict[str, Any]]
    deliveries: dict[str, dict[str, int]]
    timeline: list[EventOut]


class BreachPage(BaseModel):
    items: list[BreachOut]


class FoundOut(BaseModel):
    added: int
    already: int
    created_subjects: int
    unmatched: int
    systems: dict[str, int]
    needs_import: list[str]
    errors: dict[str, str]
    affected: dict[str, Any]


class NoticeOut(BaseModel):
    audience: str
    status: str
    digest: str
    drafted_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    sent_by: str | None
    sent_at: datetime | None
    submission: str | None
    preview: dict[str, dict[str, str]]


class DeliveryOut(BaseModel):
    audience: str | None
    recipient: str
    channel: str
    status: str
    outbox_message_id: str | None
    error: str | None
    queued_at: datetime
    finished_at: datetime | None


class BusinessUserOut(BaseModel):
    id: str
    name: str
