"""The engine's own fast checks agree with the libraries they stand in for."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from privasi.pii.validators import luhn_ok, validate_phone


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_luhn_matches_stdnum(number: str) -> None:
    assert luhn_ok(number) == luhn.is_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "+44 20 7946 0958", "+1 415 555 2671", "+61 412 345 678", "+39 06 6988 0000",
        "+39 312 345 6789", "+1 (646) 555-0199", "+44 (0)20 7946 0958", "+65 6123 4567",
        "+60 12-345 6789", "+81 3-1234-5678", "+800 1234 5678", "+44 7700 900123",
        "+49 30 901820", "+33 1 23 45 67 89", "+86 138 0013 8000", "+7 495 123-45-67",
    ],
)  # fmt: skip
def test_international_numbers_agree_with_phonenumbers(number: str) -> None:
    parsed = phonenumbers.parse(number, None)
    if phonenumbers.is_valid_number(parsed):
        assert validate_phone(number) is True
    elif phonenumbers.is_possible_number(parsed):
        # kept, at a lower score, because it was written with "+"
        assert validate_phone(number) not in (True, False)
    else:
        assert validate_phone(number) is False


@pytest.mark.parametrize("text", ["00.00", "0012345678", "+99 123", "+1 555"])
def test_impossible_international_numbers_are_rejected(text: str) -> None:
    assert validate_phone(text) is False
