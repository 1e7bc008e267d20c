"""Request and response models of the subjects API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

IdentifierKind = Literal["email", "phone", "whatsapp", "meta_asid", "external", "visitor"]


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifiers: dict[IdentifierKind, str] = Field(
        min_length=1, description="at least one; e-mail, phone (E.164 or Indonesian), ..."
    )
    kind: str | None = Field(None, max_length=64, description="the policy's subject kind")
    birth_date: date | None = None
    declared_age: int | None = Field(None, ge=0, le=130)


class IdentifiersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifiers: dict[IdentifierKind, str] = Field(min_length=1)


class LookupIn(BaseModel):
    """Identifiers go in the body, never the URL, where access logs would keep them."""

    model_config = ConfigDict(extra="forbid")
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=320)


class AgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    birth_date: date | None = None
    declared_age: int | None = Field(None, ge=0, le=130)


class SubjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str | None
    state: str
    restricted: bool
    objections: list[str]
    merged_into: str | None = Field(None, description="set once staff merged this record")
    created_at: datetime


class SubjectCreated(SubjectOut):
    created: bool = Field(description="false when the identifiers named an existing subject")


class GuardianIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guardian_id: str = Field(min_length=1, max_length=36)
    relationship: Literal["parent", "guardian", "other"]


class GuardianOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    minor_id: str
    guardian_id: str
    relationship: str
    created_at: datetime


class SubjectDetail(SubjectOut):
    identifiers: dict[str, list[str]]
    minor: bool | None = Field(description="under the policy's minimum age; null: no policy")
    guardians: list[GuardianOut]


class SubjectPage(BaseModel):
    items: list[SubjectOut]
    next_cursor: str | None


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restricted: bool


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_id: str = Field(min_length=1, max_length=36, description="the record to fold in")


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=100, description='a purpose id, or "*"')


def plain(identifiers: dict[IdentifierKind, str]) -> dict[str, str]:
    return {str(kind): value for kind, value in identifiers.items()}
