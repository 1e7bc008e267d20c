"""Request and response models of the retention API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["last_interaction", "contract_end", "project_completed", "account_closed"]
    occurred_at: datetime | None = None


class ClockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    subject_id: str
    event: str
    occurred_at: datetime
    recorded_at: datetime


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["subject", "category", "system"]
    target: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=200)


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    scope: str
    target: str
    reason: str
    owner: str
    placed_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    release_note: str | None


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(default=None, max_length=100)


class RunQueued(BaseModel):
    job_id: str
    rule: str | None


class RunOut(BaseModel):
    id: str
    rule: str
    policy_version: int | None
    trigger: str
    status: str
    as_of: str
    started_at: str
    finished_at: str | None
    deleted: int
    anonymised: int
    shredded: int
    batches: int
    counts: dict[str, int]
    keys_digest: str
    error: str | None


class PlanItemOut(BaseModel):
    system_id: str
    table: str | None
    action: str
    due: int | None
    held: int
    problem: str | None


class SkipOut(BaseModel):
    system_id: str
    table: str | None
    reason: str
    detail: str


class RulePlanOut(BaseModel):
    rule: str
    action: str
    period: str
    start: str
    cutoff: datetime
    due: int
    items: list[PlanItemOut]
    skipped: list[SkipOut]


class Report(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    totals: dict[str, int]
    runs: list[dict[str, Any]]
    holds: list[dict[str, Any]]
