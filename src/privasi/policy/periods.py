"""Periods as a policy writes them: ISO 8601 (``P2Y``, ``P26M``, ``PT72H``) or short (``90d``).

A period keeps its calendar units (``P1M`` is a month, not 30 days) because a promise of
"26 months" must read as 26 months in the notice and be added to dates month by month.
Comparisons between periods (is the new retention longer?) use an approximate length.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

_ISO = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?)?$"
)
_SHORT = re.compile(r"^(?P<n>\d+)\s*(?P<unit>y|mo|w|d|h)$")
_SHORT_UNITS = {"y": "years", "mo": "months", "w": "weeks", "d": "days", "h": "hours"}
PATTERN = r"^(P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T\d+H)?|\d+\s*(y|mo|w|d|h))$"


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        raw = text.strip()
        m = _ISO.match(raw.upper())
        if m:
            return cls(**{k: int(v) for k, v in m.groupdict().items() if v})
        s = _SHORT.match(raw.lower())
        if s:
            return cls(**{_SHORT_UNITS[s["unit"]]: int(s["n"])})
        if re.match(r"^\d+\s*m$", raw.lower()):
            raise PeriodError(
                f"'{raw}' is ambiguous: write '{raw[:-1].strip()}mo' for months "
                f"or an ISO 8601 period such as 'P{raw[:-1].strip()}M'"
            )
        raise PeriodError(
            f"'{raw}' is not a period: use ISO 8601 (P2Y, P26M, P90D, PT72H) "
            "or a number with a unit (2y, 26mo, 90d, 6w, 72h)"
        )

    def iso(self) -> str:
        date_part = "".join(
            f"{v}{u}"
            for v, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if v
        )
        time_part = f"T{self.hours}H" if self.hours else ""
        if not date_part and not time_part:
            return "P0D"
        return f"P{date_part}{time_part}"

    def __str__(self) -> str:
        return self.iso()

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.weeks or self.days or self.hours)

    def approx_days(self) -> float:
        """Length in days, good enough to order periods (a year is 365.25 days, a month 1/12)."""
        return (
            self.years * 365.25
            + self.months * 30.4375
            + self.weeks * 7
            + self.days
            + self.hours / 24
        )

    def approx_timedelta(self) -> timedelta:
        return timedelta(days=self.approx_days())

    def add_to(self, when: datetime | date) -> Any:
        """Calendar addition: 31 January + P1M is the last day of February."""
        month_index = when.month - 1 + self.months + 12 * self.years
        year = when.year + month_index // 12
        month = month_index % 12 + 1
        day = min(when.day, calendar.monthrange(year, month)[1])
        moved = when.replace(year=year, month=month, day=day)
        delta = timedelta(weeks=self.weeks, days=self.days)
        if isinstance(when, datetime):
            return moved + delta + timedelta(hours=self.hours)
        return moved + delta + timedelta(days=self.hours // 24)

    def __lt__(self, other: Period) -> bool:
        return self.approx_days() < other.approx_days()

    def __le__(self, other: Period) -> bool:
        return self.approx_days() <= other.approx_days()

    def __gt__(self, other: Period) -> bool:
        return self.approx_days() > other.approx_days()

    def __ge__(self, other: Period) -> bool:
        return self.approx_days() >= other.approx_days()

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Period:
            if isinstance(value, Period):
                return value
            if isinstance(value, str):
                return cls.parse(value)
            raise PeriodError("a period must be text such as P2Y or 90d")

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": PATTERN, "examples": ["P2Y", "P26M", "90d"]}


# Units in the order a reader expects them, with the catalogue key of each.
UNITS: tuple[tuple[str, str], ...] = (
    ("years", "year"),
    ("months", "month"),
    ("weeks", "week"),
    ("days", "day"),
    ("hours", "hour"),
)
