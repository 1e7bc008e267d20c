"""Fixtures for the subject tests: an organisation with the Toko Contoh policy published."""

from __future__ import annotations

from pathlib import Path

import pytest

from privasi.orgs import service as orgs
from privasi.policy import service as policies

POLICY = Path(__file__).parents[1] / "consent" / "data" / "toko.yaml"


@pytest.fixture
def toko(db, make_org):  # type: ignore[no-untyped-def]
    org = make_org("toko-contoh")
    with db.session(org.id) as s:
        principal = orgs.system_principal(org.id)
        policies.publish(s, principal, policies.create_draft(s, principal, POLICY.read_text()))
    return org


@pytest.fixture
def principal(toko):  # type: ignore[no-untyped-def]
    return orgs.system_principal(toko.id, "test")
