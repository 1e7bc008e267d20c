"""Response models of the audit API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject_id: str | None
    purpose: str | None
    client_addr: str | None
    request_id: str | None
    details: dict[str, Any]
    count: int | None
    subjects_digest: str | None
    mac: str


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
