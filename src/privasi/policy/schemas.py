"""Request and response models of the policy versions API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PolicyUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, description="the policy file (YAML) as text")
    source_name: str = Field("upload", max_length=200, description="shown in validation problems")


class PolicyVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    number: int
    status: str
    schema_version: int
    sha256: str
    effective_date: date | None
    published_at: datetime | None
    created_by: str | None
    published_by: str | None
    created_at: datetime


class PolicyVersionDetail(PolicyVersionOut):
    source: str
    document: dict[str, Any]


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_date: date | None = Field(
        None, description="default: the file's effective date, or today if that has passed"
    )


class ChangeOut(BaseModel):
    path: str
    kind: str
    material: bool
    reason: str
    old: Any = None
    new: Any = None


class DiffOut(BaseModel):
    material: bool
    changes: list[ChangeOut]


class PublishedOut(BaseModel):
    version: PolicyVersionOut
    diff: DiffOut | None = Field(
        None,
        description="changes against the version in effect before; material ones must be told "
        "to people before the effective date (UU PDP Pasal 21(2))",
    )
