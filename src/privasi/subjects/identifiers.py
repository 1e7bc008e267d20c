"""Identifier kinds of a data subject: how each is normalised and blind-indexed.

E-mail, phone and the business's external id use the vault's own normalisers. WhatsApp ids are
phone numbers (Meta sends them as digits without '+'), so they normalise to E.164 too and a
WhatsApp id finds a subject known by that phone number. Errors never repeat the value.
"""

from __future__ import annotations

import re

from privasi.errors import ValidationFailed
from privasi.vault.core import Vault
from privasi.vault.normalise import email, external_id, phone

IDENTIFIER_KINDS = ("email", "phone", "whatsapp", "meta_asid", "google", "external", "visitor")
# Kinds that hold the same phone number: a lookup by one also finds the other.
SAME_NUMBER = {"phone": "whatsapp", "whatsapp": "phone"}
# The vault normalises these itself; the others are indexed as tagged external ids.
VAULT_KIND = {"email": "email", "phone": "phone", "external": "external_id"}
CONTACT_KINDS = {
    "email": ("email",),
    "phone": ("phone", "whatsapp"),
    "sms": ("phone", "whatsapp"),
    "whatsapp": ("whatsapp", "phone"),
}

_DIGITS = re.compile(r"^\+?[0-9][0-9 ().-]{5,30}$")
_ASID = re.compile(r"^[0-9]{5,40}$")
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
# Google's OpenID "sub" claim: a stable numeric account id, never the e-mail address.
_GOOGLE_SUB = re.compile(r"^[0-9]{5,255}$")


def _whatsapp(value: str) -> str:
    text = value.strip()
    if not _DIGITS.match(text):
        raise ValidationFailed("not a valid WhatsApp id", field="whatsapp")
    # wa_id values are international numbers without the plus sign.
    if not text.startswith("+") and not text.startswith("0"):
        text = "+" + text
    try:
        return phone(text)
    except ValidationFailed:
        raise ValidationFailed("not a valid WhatsApp id", field="whatsapp") from None


def _meta_asid(value: str) -> str:
    text = value.strip()
    if not _ASID.match(text):
        raise ValidationFailed("a Meta app-scoped id is 5-40 digits", field="meta_asid")
    return text


def _google(value: str) -> str:
    text = value.strip()
    if not _GOOGLE_SUB.match(text):
        raise ValidationFailed(
            "a Google account id is the numeric 'sub' of the sign-in token", field="google"
        )
    return text


def _visitor(value: str) -> str:
    text = value.strip()
    if not _VISITOR.match(text):
        raise ValidationFailed("a visitor id is 8-128 letters, digits, '-' or '_'", field="visitor")
    return text


def normalise(kind: str, value: str) -> str:
    if kind not in IDENTIFIER_KINDS:
        raise ValidationFailed(
            f"unknown identifier kind '{kind}'; use one of {', '.join(IDENTIFIER_KINDS)}",
            field="identifiers",
        )
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"the {kind} identifier must be non-empty text", field=kind)
    if kind == "email":
        return email(value)
    if kind == "phone":
        return phone(value)
    if kind == "external":
        try:
            return external_id(value)
        except ValidationFailed:
            raise ValidationFailed(
                "an external id must be 1-320 characters", field="external"
            ) from None
    if kind == "whatsapp":
        return _whatsapp(value)
    if kind == "meta_asid":
        return _meta_asid(value)
    if kind == "google":
        return _google(value)
    return _visitor(value)


def blind_index(vault: Vault, org_id: str, kind: str, normalised: str) -> str:
    """The lookup key of an already normalised identifier."""
    if kind in VAULT_KIND:
        return vault.blind_index(org_id, VAULT_KIND[kind], normalised)
    # Tagged so a visitor id can never collide with an external id of the same text.
    return vault.blind_index(org_id, "external_id", f"{kind}:{normalised}")


def lookup_keys(vault: Vault, org_id: str, kind: str, normalised: str) -> list[tuple[str, str]]:
    """(kind, blind index) pairs under which this identifier may already be stored."""
    keys = [(kind, blind_index(vault, org_id, kind, normalised))]
    twin = SAME_NUMBER.get(kind)
    if twin is not None:
        keys.append((twin, blind_index(vault, org_id, twin, normalised)))
    return keys
