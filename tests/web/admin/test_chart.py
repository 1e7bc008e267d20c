"""The weekly requests chart: counting by week in the organisation's zone and by outcome, the
scale, and the SVG on the requests page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from privasi.db import Database
from privasi.web.admin import charts

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Jakarta


def _row(
    kind: str, status: str, received: datetime, done: datetime | None = None, hours: int = 72
) -> tuple[str, str, datetime, datetime | None, datetime]:
    return (kind, status, received, done, received + timedelta(hours=hours))


def test_requests_are_counted_per_local_week_and_outcome() -> None:
    monday_local_early = datetime(2026, 11, 15, 18, 30, tzinfo=UTC)  # Monday 01:30 in Jakarta
    rows = [
        _row("access", "completed", monday_local_early, monday_local_early + timedelta(hours=5)),
        _row("access", "completed", NOW - timedelta(days=1), NOW + timedelta(days=3)),  # late
        _row("erasure", "denied", NOW - timedelta(hours=2)),
        _row("access", "received", NOW - timedelta(hours=1)),
        _row("access", "received", NOW - timedelta(weeks=3)),
        _row("access", "cancelled", NOW - timedelta(weeks=12)),  # before the chart's weeks
    ]
    chart = charts.build(rows, NOW, JAKARTA)
    assert len(chart.bars) == 8
    this_week = chart.bars[-1]
    assert this_week.week.isoformat() == "2026-11-16"  # Monday in Jakarta, Sunday in UTC
    assert this_week.counts == {"on_time": 1, "late": 1, "denied": 1, "open": 1, "cancelled": 0}
    assert chart.bars[-4].counts["open"] == 1
    assert chart.total == 5 and chart.peak == 4
    assert list(chart.by_type) == ["access", "erasure"]  # most requests first
    assert chart.by_type["access"] == {
        "on_time": 1,
        "late": 1,
        "denied": 0,
        "open": 2,
        "cancelled": 0,
    }
    assert chart.by_type["erasure"]["denied"] == 1
    only_erasure = charts.build(rows, NOW, JAKARTA, request_type="erasure")
    assert only_erasure.total == 1 and only_erasure.bars[-1].counts["denied"] == 1


def test_bar_heights_are_proportional_and_the_scale_is_round() -> None:
    rows = [_row("access", "received", NOW - timedelta(hours=i)) for i in range(1, 8)]
    rows += [_row("access", "received", NOW - timedelta(weeks=1, hours=i)) for i in range(1, 4)]
    chart = charts.build(rows, NOW, JAKARTA)
    assert [value for value, _ in chart.ticks] == [0, 2, 4, 6, 8]
    tall, short = chart.bars[-1].segments[0], chart.bars[-2].segments[0]
    assert tall.count == 7 and short.count == 3
    assert abs(tall.height / short.height - 7 / 3) < 0.01
    assert tall.y + tall.height == chart.baseline
    empty = charts.build([], NOW, JAKARTA)
    assert empty.total == 0 and all(not b.segments for b in empty.bars)


def test_the_requests_page_draws_the_chart_inline(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    shop.request(db, "access")
    shop.request(db, "erasure")
    signed_in("auditor")
    page = client.get("/admin/requests")
    figure = page.text.split('data-testid="weekly-chart"')[1].split("</figure>")[0]
    assert '<svg viewBox="0 0 640 240" role="img"' in figure
    assert len(re.findall(r'<rect [^>]*class="bar bar-open"', figure)) == 1
    table = page.text.split('data-testid="weekly-table"')[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+)</td>", table)[-6:] == ["0", "0", "0", "2", "0", "2"]
    assert "style=" not in figure and "<script" not in page.text.split("</head>")[1]
    by_type = page.text.split('data-testid="type-table"')[1].split("</table>")[0]
    assert "Akses data" in by_type and "Penghapusan data" in by_type
    only_erasure = client.get("/admin/requests?chart_type=erasure").text
    table = only_erasure.split('data-testid="weekly-table"')[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+)</td>", table)[-6:] == ["0", "0", "0", "1", "0", "1"]
