"""Blind indexes: normalised identifiers, one key per organisation, no values in errors."""

from __future__ import annotations

import pytest

from privasi.errors import ValidationFailed
from privasi.vault.service import Vault, normalise


@pytest.mark.parametrize(
    ("kind", "written", "same_as"),
    [
        ("email", "  Ani.Wijaya@Contoh.CO.ID ", "ani.wijaya@contoh.co.id"),
        ("phone", "0812-3456-7890", "+6281234567890"),
        ("phone", "+62 812 3456 7890", "081234567890"),
        ("phone", "(021) 555-0123", "+62215550123"),
        ("nik", "3171011708450001", "3171011708450001"),
    ],
)
def test_one_person_written_two_ways_has_one_index(
    vault: Vault, org_id: str, kind: str, written: str, same_as: str
) -> None:
    assert vault.blind_index(org_id, kind, written) == vault.blind_index(org_id, kind, same_as)


def test_normalised_forms() -> None:
    assert normalise("email", " Ani@Contoh.ID ") == "ani@contoh.id"
    assert normalise("phone", "0812 3456 7890") == "+6281234567890"
    assert normalise("phone", "+1 650 253 0000") == "+16502530000"
    assert normalise("external_id", " Cust-42 ") == " Cust-42 "


def test_external_ids_are_kept_as_written(vault: Vault, org_id: str) -> None:
    assert vault.blind_index(org_id, "external_id", "CUST-42") != vault.blind_index(
        org_id, "external_id", "cust-42"
    )


def test_same_identifier_cannot_be_linked_across_organisations(
    vault: Vault, org_id: str, other_org_id: str
) -> None:
    email = "ani.wijaya@contoh.co.id"
    assert vault.blind_index(org_id, "email", email) != vault.blind_index(
        other_org_id, "email", email
    )


def test_kinds_are_separated(vault: Vault, org_id: str) -> None:
    assert vault.blind_index(org_id, "external_id", "+6281234567890") != vault.blind_index(
        org_id, "phone", "+6281234567890"
    )


def test_index_is_stable_across_processes(vault: Vault, settings, org_id: str) -> None:
    first = vault.blind_index(org_id, "email", "budi@contoh.id")
    again = Vault.from_settings(settings)
    assert again.blind_index(org_id, "email", "budi@contoh.id") == first
    assert len(first) == 64 and "budi" not in first
    again.close()


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "budi-at-contoh.id"),
        ("phone", "12"),
        ("phone", "nomor saya 0812"),
        ("nik", "1234"),
        ("external_id", ""),
        ("passport", "A1234567"),
    ],
)
def test_invalid_identifiers_are_refused_without_echoing_them(
    vault: Vault, org_id: str, kind: str, value: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        vault.blind_index(org_id, kind, value)
    if value:
        assert value not in info.value.detail
