"""Periods parse from ISO 8601 and short forms, order correctly and read naturally in id and en."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privasi.policy.catalogue import Phrases
from privasi.policy.periods import Period, PeriodError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2Y", Period(years=2)),
        ("P26M", Period(months=26)),
        ("P1Y6M", Period(years=1, months=6)),
        ("PT72H", Period(hours=72)),
        ("p90d", Period(days=90)),
        ("90d", Period(days=90)),
        ("26mo", Period(months=26)),
        ("2y", Period(years=2)),
        ("6w", Period(weeks=6)),
        ("72h", Period(hours=72)),
        ("P0D", Period()),
    ],
)
def test_parse(text: str, expected: Period) -> None:
    assert Period.parse(text) == expected


@pytest.mark.parametrize("text", ["two years", "P", "PT", "2 years", "-1d", "P2X", ""])
def test_rejects_non_periods(text: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_bare_m_is_ambiguous() -> None:
    with pytest.raises(PeriodError, match="26mo"):
        Period.parse("26m")


@given(
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 10),
    st.integers(0, 400),
    st.integers(0, 100),
)
def test_iso_round_trip(y: int, m: int, w: int, d: int, h: int) -> None:
    period = Period(y, m, w, d, h)
    assert Period.parse(period.iso()) == period


def test_ordering_uses_length() -> None:
    assert Period.parse("P26M") > Period.parse("P2Y")
    assert Period.parse("90d") < Period.parse("P1Y")
    assert Period.parse("PT72H") < Period.parse("30d")


def test_calendar_addition() -> None:
    assert Period(months=1).add_to(date(2026, 1, 31)) == date(2026, 2, 28)
    assert Period(years=2).add_to(date(2024, 2, 29)) == date(2026, 2, 28)
    assert Period(hours=72).add_to(datetime(2026, 3, 1, 9)) == datetime(2026, 3, 4, 9)


@pytest.mark.parametrize(
    ("period", "id_text", "en_text"),
    [
        ("P2Y", "2 tahun", "2 years"),
        ("P1Y", "1 tahun", "1 year"),
        ("P26M", "26 bulan", "26 months"),
        ("90d", "90 hari", "90 days"),
        ("PT72H", "3 x 24 jam", "72 hours"),
        ("PT5H", "5 jam", "5 hours"),
        ("P1Y6M", "1 tahun 6 bulan", "1 year and 6 months"),
        ("P0D", "segera", "immediately"),
    ],
)
def test_human_wording(period: str, id_text: str, en_text: str) -> None:
    assert Phrases("id").period(Period.parse(period)) == id_text
    assert Phrases("en").period(Period.parse(period)) == en_text
