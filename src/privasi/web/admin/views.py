"""What every admin page shares: times in the organisation's zone, countdowns, error pages.

Times are stored in UTC and shown in the organisation's zone; a countdown is rendered on the server
(so it is right without JavaScript) and ``privasi.js`` keeps it ticking from ``data-due``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request

from privasi.db import PrivasiSession, utcnow
from privasi.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    Locked,
    NotFound,
    PrivasiError,
    RateLimited,
    ValidationFailed,
)
from privasi.web.i18n import request_language, t
from privasi.web.render import render
from privasi.web.staff import PageExit, StaffPage

DEFAULT_ZONE = "Asia/Jakarta"


SOON_SECONDS = 24 * 3600  # under a day left: shown as urgent before it turns overdue


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_text(moment: datetime | None, zone: ZoneInfo) -> str:
    """``2026-11-22 09:15`` in the zone; the zone's name is shown once per page, not per time."""
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def span_text(seconds: int, lang: str) -> str:
    """A duration as people say it: ``2 hari 5 jam``, ``5 h 12 min``, ``12 min``."""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    unit = {k: t(f"admin.clock.{k}", lang) for k in ("days", "hours", "minutes")}
    if days:
        return f"{days} {unit['days']} {hours} {unit['hours']}"
    if hours:
        return f"{hours} {unit['hours']} {minutes} {unit['minutes']}"
    return f"{max(minutes, 0)} {unit['minutes']}"


@dataclass(frozen=True)
class Clock:
    """A deadline as the page shows it: the local due time and the time left (or overdue)."""

    due_iso: str
    due_local: str
    seconds_left: int
    text: str
    state: str  # ok | soon | overdue | closed

    @property
    def css(self) -> str:
        return f"clock clock-{self.state}"


def clock(
    due: datetime, zone: ZoneInfo, lang: str, *, now: datetime | None = None, closed: bool = False
) -> Clock:
    now = now or utcnow()
    left = int((due - now).total_seconds())
    if closed:
        state, text = "closed", ""
    elif left < 0:
        state, text = "overdue", t("admin.clock.overdue", lang, span=span_text(left, lang))
    else:
        state = "soon" if left < SOON_SECONDS else "ok"
        text = t("admin.clock.left", lang, span=span_text(left, lang))
    return Clock(due.isoformat(), local_text(due, zone), left, text, state)


def page_tools(page: StaffPage) -> dict[str, Any]:
    """Context every admin page gets: the zone, a formatter of times and a clock maker."""
    zone = zone_of(page.org.time_zone)
    lang = page_lang(page.request)
    now = utcnow()

    def when(moment: datetime | None) -> str:
        return local_text(moment, zone)

    def make_clock(due: datetime, closed: bool = False) -> Clock:
        return clock(due, zone, lang, now=now, closed=closed)

    return {"zone_name": str(zone), "when": when, "clock": make_clock, "now": now}


def page_lang(request: Request) -> str:
    return request_language(request)[0]


def not_found(request: Request) -> PageExit:
    context = {"title_key": "admin.errors.not_found_title", "body_key": "admin.errors.not_found"}
    return PageExit(render(request, "error.html", context, status_code=404))


ERROR_KEYS: dict[type[PrivasiError], str] = {
    InvalidTransition: "admin.errors.invalid_transition",
    Conflict: "admin.errors.conflict",
    ValidationFailed: "admin.errors.validation",
    NotFound: "admin.errors.not_found",
    Forbidden: "admin.errors.forbidden",
    Locked: "admin.errors.locked",
    RateLimited: "admin.errors.rate_limited",
}


def error_key(exc: PrivasiError) -> str:
    """The catalogue key for a refused action: the service's own message is English only."""
    for kind in type(exc).__mro__:
        if kind in ERROR_KEYS:
            return ERROR_KEYS[kind]
    return "admin.errors.failed"


def undo(session: PrivasiSession) -> None:
    """Drop what a refused action may have begun, so the unit commits nothing of it."""
    session.rollback()
