"""Request and response models of the rights API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RequestType = Literal[
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "withdraw_consent",
    "automated_decision_objection",
]


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: RequestType
    channel: Literal["api", "privacy_center", "email", "whatsapp", "staff", "meta"] = "api"
    identifiers: dict[str, str] | None = Field(
        None, description="identifiers naming the subject, e.g. {'email': ...}; never creates one"
    )
    subject_id: str | None = Field(None, max_length=36)
    requester_kind: Literal["subject", "guardian", "agent"] = "subject"
    requester_note: str | None = Field(None, max_length=2000)
    requester_subject_id: str | None = Field(
        None, max_length=36, description="a guardian or agent on record acting for the subject"
    )
    details: dict[str, Any] | None = Field(
        None,
        description="rectification: {'changes': {field: value}}; objection or withdrawal: "
        "{'purposes': [...]}",
    )
    lang: Literal["id", "en"] = "id"
    received_at: datetime | None = Field(
        None, description="when the request reached the business, if earlier than now"
    )
    session_token: str | None = Field(
        None,
        max_length=4000,
        description="a token signed by the business's logged-in session: verifies at once",
    )


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    system_id: str
    kind: str
    action: str
    status: str
    due_at: datetime | None
    attempts: int
    result: dict[str, Any]
    note: str | None
    completed_by: str | None
    completed_at: datetime | None


class RequestOut(BaseModel):
    id: str
    number: str
    type: str
    status: str
    subject_id: str | None
    channel: str
    requester_kind: str
    requester_subject_id: str | None
    received_at: datetime
    due_at: datetime
    due_at_local: str | None
    deadline_basis: str
    time_left_seconds: int
    share_used: float
    overdue: bool
    waiting_seconds: int
    verified_at: datetime | None
    verification_method: str | None
    approved_at: datetime | None
    completed_at: datetime | None
    assigned_to: str | None
    denial_ground: str | None
    outcome: dict[str, Any]
    lang: str


class RequestCreated(RequestOut):
    status_token: str = Field(description="for the requester's status page")


class RequestDetail(RequestOut):
    requester_note: str | None
    identifiers_given: dict[str, str] | None = Field(
        None, description="identifiers given at intake that matched nobody (until matched)"
    )
    verification_note: str | None
    denial_note: str | None
    not_before: datetime | None
    tasks: list[TaskOut]


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None
    counts: dict[str, int]


class CodeIn(BaseModel):
    channel: Literal["email", "whatsapp", "phone"] = "email"


class CodeSent(BaseModel):
    challenge_id: str
    expires_at: datetime


class CodeCheck(BaseModel):
    code: str = Field(min_length=1, max_length=20)


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=4000)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class DenyIn(BaseModel):
    ground: Literal["identity_not_verified", "pasal_15_exception", "pasal_33_other_person"]
    note: str = Field(min_length=1, max_length=2000)


class MatchIn(BaseModel):
    subject_id: str = Field(min_length=1, max_length=36)


class AssignIn(BaseModel):
    staff_id: str | None = Field(None, max_length=36)


class TaskDoneIn(BaseModel):
    status: Literal["done", "skipped"] = "done"
    note: str | None = Field(None, max_length=2000)
    kept: list[dict[str, Any]] | None = Field(
        None, description="what this system keeps and why: [{categories, reason, until}]"
    )


class DiffLine(BaseModel):
    field: str
    current: list[str] | None
    requested: str
    applied_in_privasi: bool
    other_systems: list[str]


class RouteIn(BaseModel):
    controller: str = Field(min_length=1, max_length=63, description="the Business User's slug")


class RoutedOut(BaseModel):
    org: str
    id: str
    number: str


class SuppressionIn(BaseModel):
    kind: str = Field(max_length=16)
    value: str = Field(min_length=1, max_length=320)


class SuppressionOut(BaseModel):
    suppressed: bool
