"""Consent over time: days in the organisation's zone, weeks past 60 days, the bars' geometry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from privasi.consent.models import ConsentEvent
from privasi.db import Database
from privasi.web.governance import stats


def test_days_are_counted_where_the_organisation_is(
    db: Database, make_org: Any, publish_example: Any, consent_events: Any
) -> None:
    org = make_org("warung-waktu")
    publish_example(org)
    consent_events(org.id, "marketing", grants=2, withdrawals=1)
    # 23:30 UTC on 9 March is already 10 March in Jakarta (UTC+7)
    late = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    with db.session(org.id) as s:
        s.execute(update(ConsentEvent).values(occurred_at=late))
    now = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
    with db.session(org.id) as s:
        jakarta = stats.consent_series(s, now, "Asia/Jakarta", days=7)
        utc = stats.consent_series(s, now, "UTC", days=7)
        purposes, channels = stats.ledger_values(s)
    assert [b.start for b in jakarta.buckets][-1] == date(2026, 3, 12)
    assert len(jakarta.buckets) == 7
    by_day = {b.start: b.counts for b in jakarta.buckets if b.total}
    assert by_day == {date(2026, 3, 10): {"granted": 2, "withdrawn": 1, "expired": 0}}
    assert {b.start for b in utc.buckets if b.total} == {date(2026, 3, 9)}
    assert jakarta.breakdown == {("marketing", "web"): {"granted": 2, "withdrawn": 1, "expired": 0}}
    assert (purposes, channels) == (["marketing"], ["web"])


def test_long_periods_count_per_week_from_monday(
    db: Database, make_org: Any, publish_example: Any, consent_events: Any
) -> None:
    org = make_org("warung-minggu")
    publish_example(org)
    consent_events(org.id, "marketing", grants=1)
    now = datetime(2026, 3, 12, 5, 0, tzinfo=UTC)  # a Thursday
    with db.session(org.id) as s:
        s.execute(update(ConsentEvent).values(occurred_at=now - timedelta(days=80)))
        series = stats.consent_series(s, now, "Asia/Jakarta", days=90)
        filtered = stats.consent_series(s, now, "Asia/Jakarta", days=90, channel="email")
        odd = stats.consent_series(s, now, "Asia/Jakarta", days=13)
    assert series.weekly and all(b.start.weekday() == 0 for b in series.buckets)
    assert series.totals == {"granted": 1, "withdrawn": 0, "expired": 0}
    assert filtered.totals["granted"] == 0
    assert odd.days == 30  # only the offered periods


def test_bar_chart_scales_to_a_round_peak() -> None:
    buckets = [stats.Bucket(date(2026, 3, d)) for d in (1, 2, 3)]
    buckets[1].counts["granted"] = 7
    buckets[2].counts["withdrawn"] = 3
    series = stats.ConsentSeries(days=7, weekly=False, buckets=buckets, breakdown={})
    chart = stats.bar_chart(series, width=340, height=140)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.count == 7 and tallest.action == "granted"
    # the axis goes to 10 (the round number above 7) in steps of 2
    assert [label for _, label in chart.grid] == [0, 2, 4, 6, 8, 10]
    plot = chart.plot_bottom - chart.plot_top
    assert abs(tallest.height - plot * 0.7) < 0.01
    assert abs(tallest.y + tallest.height - chart.plot_bottom) < 0.01
    withdrawn = next(b for b in chart.bars if b.count == 3)
    assert withdrawn.x > tallest.x  # a later day sits further right
    assert all(b.height == 0 for b in chart.bars if b.count == 0)
    assert len(chart.bars) == 3 * len(stats.ACTIONS)
    empty = stats.bar_chart(stats.ConsentSeries(7, False, [stats.Bucket(date(2026, 1, 1))], {}))
    assert [label for _, label in empty.grid] == [0, 1]
