"""Consent over time for the dashboard: ledger events counted per day or week, and a bar chart.

Pure reading and arithmetic, no HTTP: the page asks for a ``ConsentSeries`` and draws the bars
this module lays out. Days are calendar days in the organisation's time zone, since that is the
day the privacy officer thinks in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from privasi.consent.models import ConsentEvent
from privasi.db import PrivasiSession

PERIODS = (7, 30, 90, 365)
ACTIONS = ("granted", "withdrawn", "expired")
# Past this many days a bar per day gets too thin to read on a phone: a bar per week instead.
WEEKLY_FROM_DAYS = 60


@dataclass
class Bucket:
    start: date
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ConsentSeries:
    days: int
    weekly: bool
    buckets: list[Bucket]
    # (purpose, channel) -> action -> count over the whole period
    breakdown: dict[tuple[str, str], dict[str, int]]

    @property
    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(ACTIONS, 0)
        for bucket in self.buckets:
            for action, count in bucket.counts.items():
                out[action] += count
        return out


def consent_series(
    session: PrivasiSession,
    now: datetime,
    time_zone: str,
    *,
    days: int = 30,
    purpose: str | None = None,
    channel: str | None = None,
) -> ConsentSeries:
    """Grants, withdrawals and expiries per day (per week past 60 days) for the last ``days``."""
    if days not in PERIODS:
        days = 30
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    weekly = days > WEEKLY_FROM_DAYS
    if weekly:
        first_day -= timedelta(days=first_day.weekday())  # weeks start on Monday
    step = 7 if weekly else 1
    starts: list[date] = []
    cursor = first_day
    while cursor <= today:
        starts.append(cursor)
        cursor += timedelta(days=step)
    buckets = {start: Bucket(start) for start in starts}
    since = datetime.combine(first_day, datetime.min.time(), zone).astimezone(UTC)

    stmt = select(
        ConsentEvent.occurred_at, ConsentEvent.purpose, ConsentEvent.channel, ConsentEvent.action
    ).where(ConsentEvent.occurred_at >= since)
    if purpose:
        stmt = stmt.where(ConsentEvent.purpose == purpose)
    if channel:
        stmt = stmt.where(ConsentEvent.channel == channel)
    breakdown: dict[tuple[str, str], Counter[str]] = {}
    for occurred, row_purpose, row_channel, action in session.execute(
        stmt.execution_options(yield_per=2000)
    ):
        day = occurred.astimezone(zone).date()
        start = day - timedelta(days=(day - first_day).days % step)
        bucket = buckets.get(start)
        if bucket is None or action not in bucket.counts:
            continue
        bucket.counts[action] += 1
        breakdown.setdefault((row_purpose, row_channel), Counter())[action] += 1

    return ConsentSeries(
        days=days,
        weekly=weekly,
        buckets=[buckets[s] for s in starts],
        breakdown={
            key: {a: counts.get(a, 0) for a in ACTIONS} for key, counts in sorted(breakdown.items())
        },
    )


def ledger_values(session: PrivasiSession) -> tuple[list[str], list[str]]:
    """The purposes and channels the ledger holds: what the page offers as filters."""
    known = session.execute(select(ConsentEvent.purpose, ConsentEvent.channel).distinct()).all()
    return sorted({p for p, _ in known}), sorted({c for _, c in known})


# --- the chart ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    action: str
    count: int


@dataclass
class Chart:
    width: int
    height: int
    plot_top: float
    plot_bottom: float
    plot_left: float
    bars: list[Bar]
    # (y, label) of the horizontal grid lines; (x, label) of the date labels under the bars
    grid: list[tuple[float, int]]
    labels: list[tuple[float, str]]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def bar_chart(series: ConsentSeries, *, width: int = 720, height: int = 240) -> Chart:
    """Grouped bars (granted, withdrawn, expired) per bucket, scaled to the largest count."""
    left, right, top, bottom = 40.0, 8.0, 10.0, 28.0
    plot_w = width - left - right
    plot_h = height - top - bottom
    peak = _nice_ceiling(max((max(b.counts.values()) for b in series.buckets), default=0))
    count = max(len(series.buckets), 1)
    slot = plot_w / count
    bar_w = max(slot * 0.8 / len(ACTIONS), 0.5)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    every = max(1, round(count / 8))  # about eight date labels whatever the period
    for index, bucket in enumerate(series.buckets):
        x0 = left + index * slot + slot * 0.1
        for offset, action in enumerate(ACTIONS):
            value = bucket.counts[action]
            h = plot_h * value / peak
            bars.append(
                Bar(
                    round(x0 + offset * bar_w, 2),
                    round(top + plot_h - h, 2),
                    round(bar_w, 2),
                    round(h, 2),
                    action,
                    value,
                )
            )
        if index % every == 0:
            labels.append(
                (round(left + index * slot + slot / 2, 2), bucket.start.strftime("%d/%m"))
            )
    # Whole, evenly spaced steps: 0-5 by one, 0-10 by two, 0-50 by ten ...
    step = max(peak // 5, 1)
    ticks = list(range(0, peak + 1, step))
    grid = [(round(top + plot_h - plot_h * tick / peak, 2), tick) for tick in ticks]
    return Chart(width, height, top, top + plot_h, left, bars, grid, labels)
