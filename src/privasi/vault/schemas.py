"""Request and response models of the secrets API. No response model has a value field."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from privasi.vault.secrets import MAX_VALUE_BYTES


class SecretIn(BaseModel):
    value: str = Field(min_length=1, max_length=MAX_VALUE_BYTES, description="never echoed back")


class SecretOut(BaseModel):
    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


class SecretListOut(BaseModel):
    items: list[SecretOut]
