"""What the governance pages share: times in the organisation's zone, page numbers, the stylesheet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from privasi.orgs.models import Organisation
from privasi.web.admin import views


def zone_of(org: Organisation) -> ZoneInfo:
    return views.zone_of(org.time_zone)


def local_formatter(org: Organisation) -> Callable[[datetime | date | None], str]:
    """A ``when(moment)`` for templates: a stored UTC time as the organisation's local time."""
    zone = zone_of(org)

    def when(moment: datetime | date | None) -> str:
        if moment is None:
            return ""
        if isinstance(moment, datetime):
            return moment.astimezone(zone).strftime("%d-%m-%Y %H:%M")
        return moment.strftime("%d-%m-%Y")

    return when


def times(org: Organisation) -> dict[str, object]:
    """Context every governance page gets: the time formatter and the zone's name."""
    return {"when": local_formatter(org), "zone_name": str(zone_of(org))}
