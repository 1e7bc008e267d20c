"""The phrase catalogues of the two languages hold the same keys and format cleanly."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

import pytest

from privasi.policy.catalogue import Phrases, catalogue
from privasi.policy.countries import COUNTRIES
from privasi.policy.vocab import (
    Channel,
    CookieCategory,
    LegalBasis,
    RecipientRole,
    RequestType,
    SecurityMeasure,
    StartEvent,
    Verification,
)


def test_same_keys_in_both_languages() -> None:
    id_keys, en_keys = set(catalogue("id")), set(catalogue("en"))
    assert sorted(id_keys - en_keys) == [], "keys only in id.yaml"
    assert sorted(en_keys - id_keys) == [], "keys only in en.yaml"


def test_no_empty_phrase_and_no_identical_prose() -> None:
    id_cat, en_cat = catalogue("id"), catalogue("en")
    for key, value in id_cat.items():
        assert value, f"id.yaml {key} is empty"
    # Long sentences that read the same in both files were not translated.
    same = [k for k, v in id_cat.items() if isinstance(v, str) and len(v) > 40 and v == en_cat[k]]
    assert same == []


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("basis", LegalBasis),
        ("channel", Channel),
        ("cookies.category", CookieCategory),
        ("cookies.default", CookieCategory),
        ("recipients.role", RecipientRole),
        ("rights.request", RequestType),
        ("rights.verify", Verification),
        ("security.measure", SecurityMeasure),
        ("retention.event", StartEvent),
        ("retention.until_event", StartEvent),
    ],
)
def test_every_vocabulary_word_has_a_phrase(prefix: str, values: type[StrEnum]) -> None:
    for lang in ("id", "en"):
        entries = catalogue(lang)
        missing = [v.value for v in values if f"{prefix}.{v.value}" not in entries]
        assert missing == [], f"{lang}: {prefix} lacks {missing}"


def test_placeholders_are_ones_the_renderer_fills() -> None:
    allowed = {
        "name", "date", "legal", "brand", "laws", "kind", "keywords", "text", "providers",
        "entities", "action", "list", "countries", "tool", "period", "contact", "event",
        "states", "age", "channels", "authority", "n", "hours", "days",
    }  # fmt: skip
    for lang in ("id", "en"):
        for key, value in catalogue(lang).items():
            if isinstance(value, str):
                used = set(re.findall(r"{(\w+)}", value))
                assert used <= allowed, f"{lang}.{key} uses {used - allowed}"


def test_missing_key_raises() -> None:
    with pytest.raises(KeyError, match="no key 'nope'"):
        Phrases("en")("nope")


def test_lists_and_dates() -> None:
    assert Phrases("en").join(["a", "b", "c"]) == "a, b and c"
    assert Phrases("id").join(["a", "b", "c"]) == "a, b, dan c"
    assert Phrases("id").join(["a, b", "c"], "or") == "a, b atau c"
    assert Phrases("en").join(["x, y", "z", "w"]) == "x, y; z; and w"
    assert Phrases("id").join(["Identitas dan kontak", "data WhatsApp"]) == (
        "Identitas dan kontak, serta data WhatsApp"
    )
    assert Phrases("id").date(date(2026, 8, 17)) == "17 Agustus 2026"
    assert Phrases("en").date(date(2026, 8, 17)) == "17 August 2026"


def test_country_names() -> None:
    assert COUNTRIES["NO"]["en"] == "Norway"  # not YAML's False
    assert Phrases("id").country("US") == "Amerika Serikat"
    assert Phrases("en").country("US", in_sentence=True) == "the United States"
