"""The phrase catalogue of the notice, one YAML file per language, and the formatting that needs it.

Keys are dotted paths (``retention.event.collected``). The two catalogues must hold the same keys;
a missing key raises instead of leaking an English phrase into the Indonesian notice.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from privasi.policy.countries import country_name
from privasi.policy.periods import UNITS, Period

LANGUAGES = ("id", "en")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


@cache
def catalogue(lang: str) -> dict[str, Any]:
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for language '{lang}' (use id or en)")
    path = resources.files("privasi.policy").joinpath(f"catalog/{lang}.yaml")
    return _flatten(yaml.safe_load(path.read_text("utf-8")))


class Phrases:
    """Lookups and formatting for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.entries = catalogue(lang)

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self.entries[key]
        except KeyError:
            raise KeyError(f"catalogue '{self.lang}' has no key '{key}'") from None
        return str(text).format(**values) if values else str(text)

    def has(self, key: str) -> bool:
        return key in self.entries

    def join(self, items: list[str], word: str = "and") -> str:
        """'a, b and c' / 'a, b, dan c': Indonesian keeps the comma before the last item."""
        items = [i for i in items if i]
        if len(items) <= 1:
            return "".join(items)
        conj = self(f"list.{word}")
        # Items that hold commas themselves are kept apart with semicolons.
        sep = "; " if any("," in i for i in items) else ", "
        if any(f" {conj} " in i for i in items):
            # "Identitas dan kontak dan data WhatsApp" reads badly: Indonesian switches to
            # "serta", English puts a comma before the last "and".
            alt = self(f"list.{word}_alt")
            return f"{sep.join(items[:-1])}{sep.rstrip()} {alt} {items[-1]}"
        if len(items) == 2:
            return f"{items[0]} {conj} {items[1]}"
        last = sep.strip() if sep == "; " or self.lang == "id" else ""
        return f"{sep.join(items[:-1])}{last} {conj} {items[-1]}"

    def period(self, period: Period) -> str:
        if period.is_zero:
            return self("period.zero")
        only_hours = not (period.years or period.months or period.weeks or period.days)
        if only_hours and period.hours % 24 == 0:
            # UU PDP counts its clocks as "3 x 24 jam"; English readers expect "72 hours".
            return self("period.whole_days_in_hours", hours=period.hours, days=period.hours // 24)
        parts = []
        for attr, unit in UNITS:
            n = getattr(period, attr)
            if n:
                parts.append(self(f"period.{unit}_{'one' if n == 1 else 'other'}", n=n))
        if self.lang == "id":
            return " ".join(parts)
        return self.join(parts)

    def date(self, when: date) -> str:
        months = self.entries["months"]
        return f"{when.day} {months[when.month - 1]} {when.year}"

    def country(self, code: str, in_sentence: bool = False) -> str:
        return country_name(code, self.lang, in_sentence)
