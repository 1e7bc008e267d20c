"""Requests per week by type and outcome, drawn as an inline SVG bar chart on the server.

No chart library and no script: the bars are plain ``<rect>`` elements with CSS classes for their
colours, and the same numbers are in a table beside the chart for screen readers and for reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from privasi.db import PrivasiSession
from privasi.rights.models import OPEN_STATUSES, RightsRequest

OUTCOMES = ("on_time", "late", "denied", "open", "cancelled")
WEEKS = 8
# Drawing area, in SVG units; the chart scales to the width of its container.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 36


def outcome_of(status: str, completed_at: datetime | None, due_at: datetime) -> str:
    if status in OPEN_STATUSES:
        return "open"
    if status == "completed":
        return "on_time" if completed_at is not None and completed_at <= due_at else "late"
    if status == "denied":
        return "denied"
    return "cancelled"


@dataclass
class Segment:
    outcome: str
    count: int
    y: float
    height: float


@dataclass
class Bar:
    week: date  # the Monday the week starts on, in the organisation's zone
    label: str
    total: int
    x: float
    width: float
    segments: list[Segment] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Chart:
    bars: list[Bar]
    peak: int
    ticks: list[tuple[int, float]]  # (value, y) of the horizontal guide lines
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    total: int = 0
    # The same weeks by type of request: {type: {outcome: count}}, types with requests only.
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)


def week_start(moment: datetime, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def build(
    rows: Iterable[tuple[str, str, datetime, datetime | None, datetime]],
    now: datetime,
    zone: ZoneInfo,
    *,
    weeks: int = WEEKS,
    request_type: str | None = None,
) -> Chart:
    """Bars for the last ``weeks`` weeks (this one included) from (type, status, received_at,
    completed_at, due_at) rows; ``request_type`` keeps one type only."""
    last = week_start(now, zone)
    starts = [last - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    counts: dict[date, dict[str, int]] = {s: dict.fromkeys(OUTCOMES, 0) for s in starts}
    by_type: dict[str, dict[str, int]] = {}
    for kind, status, received_at, completed_at, due_at in rows:
        if request_type and kind != request_type:
            continue
        week = week_start(received_at, zone)
        if week in counts:
            outcome = outcome_of(status, completed_at, due_at)
            counts[week][outcome] += 1
            by_type.setdefault(kind, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
    peak = max((sum(c.values()) for c in counts.values()), default=0)
    scale_top = _nice(peak)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / weeks
    bars = []
    for i, start in enumerate(starts):
        week_counts = counts[start]
        bar = Bar(
            week=start,
            label=start.strftime("%d/%m"),
            total=sum(week_counts.values()),
            x=round(LEFT + i * slot + slot * 0.18, 1),
            width=round(slot * 0.64, 1),
            counts=week_counts,
        )
        y = float(HEIGHT - BOTTOM)
        for outcome in OUTCOMES:
            n = week_counts[outcome]
            if not n:
                continue
            h = plot_h * n / scale_top
            y -= h
            bar.segments.append(Segment(outcome, n, round(y, 1), round(h, 1)))
        bars.append(bar)
    ticks = [
        (value, round(HEIGHT - BOTTOM - plot_h * value / scale_top, 1))
        for value in _tick_values(scale_top)
    ]
    ordered = {k: by_type[k] for k in sorted(by_type, key=lambda k: -sum(by_type[k].values()))}
    return Chart(bars, peak, ticks, total=sum(b.total for b in bars), by_type=ordered)


def _nice(peak: int) -> int:
    """The top of the scale: the peak rounded up to 1, 2 or 5 times a power of ten (at least 4)."""
    if peak <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= peak:
                return step * magnitude * 4
        magnitude *= 10


def _tick_values(top: int) -> list[int]:
    return [top * i // 4 for i in range(5)]


def weekly_requests(
    session: PrivasiSession,
    now: datetime,
    zone: ZoneInfo,
    *,
    request_type: str | None = None,
    weeks: int = WEEKS,
) -> Chart:
    """The chart of the organisation's requests received in the last ``weeks`` weeks."""
    since = datetime.combine(
        week_start(now, zone) - timedelta(weeks=weeks - 1), datetime.min.time(), zone
    )
    query = select(
        RightsRequest.type,
        RightsRequest.status,
        RightsRequest.received_at,
        RightsRequest.completed_at,
        RightsRequest.due_at,
    ).where(RightsRequest.received_at >= since)
    if request_type:
        query = query.where(RightsRequest.type == request_type)
    rows = [tuple(r) for r in session.execute(query)]
    return build(rows, now, zone, weeks=weeks, request_type=request_type)  # type: ignore[arg-type]
