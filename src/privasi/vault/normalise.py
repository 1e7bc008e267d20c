"""Normalising identifiers before they are blind-indexed, so one person's e-mail or phone number
written two ways still finds the same record. Errors never repeat the value."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.id import nik

from privasi.errors import ValidationFailed

DEFAULT_REGION = "ID"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LENGTH = 320


def email(value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip().lower()
    if not EMAIL_RE.match(text) or len(text) > MAX_LENGTH:
        raise ValidationFailed("not a valid e-mail address", field="email")
    return text


def phone(value: str, region: str = DEFAULT_REGION) -> str:
    """E.164; numbers without a country code are read as Indonesian (0812... -> +62812...)."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed("not a valid phone number", field="phone") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed("not a valid phone number", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def external_id(value: str) -> str:
    # Kept exactly as the business's system wrote it: ids there are case- and space-sensitive.
    if not value or len(value) > MAX_LENGTH:
        raise ValidationFailed("an external id must be 1-320 characters", field="external_id")
    return value


def nik_number(value: str) -> str:
    """Indonesian national identity number (NIK), digits only after validation."""
    try:
        return str(nik.validate(value))
    except StdnumError as exc:
        raise ValidationFailed("not a valid NIK", field="nik") from exc


NORMALISERS = {
    "email": email,
    "phone": phone,
    "external_id": external_id,
    "nik": nik_number,
}


def normalise(kind: str, value: str) -> str:
    try:
        normaliser = NORMALISERS[kind]
    except KeyError:
        raise ValidationFailed(
            f"unknown identifier kind '{kind}'; use one of {', '.join(sorted(NORMALISERS))}",
            field="kind",
        ) from None
    if not isinstance(value, str):
        raise ValidationFailed("an identifier must be text", field=kind)
    return normaliser(value)
