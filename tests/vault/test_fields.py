"""Field encryption: round trips, refusals of tampered or misplaced ciphertext, rotation."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from privasi.vault.service import CiphertextInvalid, KeyUnavailable, Vault

FIXTURES_OK = hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
values = st.text(max_size=200) | st.binary(max_size=200) | json_values
subjects = st.uuids().map(str)
fields = st.sampled_from(["profile.name", "profile.phone", "address", "notes"])


@FIXTURES_OK
@given(value=values, subject=subjects, field=fields)
def test_round_trip_keeps_value_and_type(vault: Vault, org_id: str, value, subject, field) -> None:
    token = vault.encrypt_field(org_id, subject, value, aad=field)
    assert vault.decrypt_field(org_id, subject, token, aad=field) == value
    assert type(vault.decrypt_field(org_id, subject, token, aad=field)) is type(value)


@FIXTURES_OK
@given(value=st.text(min_size=1, max_size=100), data=st.data())
def test_tampered_ciphertext_is_refused(vault: Vault, org_id: str, value: str, data) -> None:
    token = vault.encrypt_field(org_id, "subj-1", value, aad="name")
    prefix, key_id, body = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    forged = f"{prefix}.{key_id}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(CiphertextInvalid):
        vault.decrypt_field(org_id, "subj-1", forged, aad="name")


@FIXTURES_OK
@given(value=st.text(max_size=50))
def test_wrong_subject_org_or_field_is_refused(
    vault: Vault, org_id: str, other_org_id: str, value: str
) -> None:
    token = vault.encrypt_field(org_id, "ani", value, aad="email")
    vault.encrypt_field(org_id, "budi", "x", aad="email")  # budi has a key of his own
    with pytest.raises(KeyUnavailable):
        vault.decrypt_field(org_id, "budi", token, aad="email")
    with pytest.raises(KeyUnavailable):
        vault.decrypt_field(other_org_id, "ani", token, aad="email")
    with pytest.raises(CiphertextInvalid):
        vault.decrypt_field(org_id, "ani", token, aad="phone")


def test_ciphertext_carries_key_id_and_hides_value(vault: Vault, org_id: str) -> None:
    token = vault.encrypt_field(org_id, "ani", "Ani Wijaya", aad="name")
    prefix, key_id, _ = token.split(".")
    assert prefix == "pv1" and key_id.startswith("dk-")
    assert "Ani" not in token
    # Fresh nonce every time: equal values do not produce equal ciphertexts.
    assert token != vault.encrypt_field(org_id, "ani", "Ani Wijaya", aad="name")


@pytest.mark.parametrize(
    "junk", ["", "pv1", "pv1..abc", "xx.dk-1.abcd", "pv1.dk-1.!!!", "pv1.dk-1.AA"]
)
def test_garbage_is_refused_cleanly(vault: Vault, org_id: str, junk: str) -> None:
    vault.encrypt_field(org_id, "ani", "x", aad="name")
    with pytest.raises(CiphertextInvalid):
        vault.decrypt_field(org_id, "ani", junk, aad="name")


@FIXTURES_OK
@given(batch=st.lists(st.tuples(subjects, values), min_size=1, max_size=6))
def test_rotation_keeps_everything_readable(vault: Vault, org_id: str, batch) -> None:
    sealed = [(s, v, vault.encrypt_field(org_id, s, v, aad="f")) for s, v in batch]
    index_before = vault.blind_index(org_id, "email", "ani@example.id")
    vault.rewrap(bytes(range(32)) if vault.master_key_id != _id(bytes(range(32))) else b"r" * 32)
    fresh = Vault(vault.keystore, vault._master, cache_ttl=0)  # no cached keys: unwrap anew
    for subject, value, token in sealed:
        assert fresh.decrypt_field(org_id, subject, token, aad="f") == value
    assert fresh.blind_index(org_id, "email", "ani@example.id") == index_before


def _id(key: bytes) -> str:
    from privasi.vault.master import key_id

    return key_id(key)
