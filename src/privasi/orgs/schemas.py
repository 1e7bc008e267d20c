"""Request and response models of the organisations API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    time_zone: str
    role: str
    created_at: datetime


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    time_zone: str | None = Field(None, max_length=64)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: str
    active: bool
    totp_enabled: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=254)
    role: str
    name: str = Field("", max_length=200)


class StaffCreated(StaffOut):
    one_time_password: str = Field(description="shown once; the user must change it at first login")


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = None
    active: bool | None = None
    name: str | None = Field(None, max_length=200)


class PasswordReset(BaseModel):
    one_time_password: str


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    key_id: str
    name: str
    scopes: list[str]
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1)


class ApiKeyCreated(ApiKeyOut):
    token: str = Field(description="the full key; shown once and never stored")


class SubProcessor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2")
    purpose: str | None = Field(None, max_length=500)


class HostingGrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    processor_slug: str
    actions: list[str] = Field(min_length=1)
    instructions: str = Field(min_length=1, max_length=20000)
    approved_subprocessors: list[SubProcessor] = Field(default_factory=list)


class HostingGrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    org_id: str
    processor_org_id: str
    actions: list[str]
    instructions: str
    approved_subprocessors: list[dict[str, Any]]
    created_at: datetime
    revoked_at: datetime | None


class HostedOrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
