"""Fixtures for the consent and subject tests: an organisation with the Toko Contoh policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from privasi.consent.service import Proof
from privasi.orgs import service as orgs
from privasi.policy import service as policies

POLICY = Path(__file__).parent / "data" / "toko.yaml"


def publish_policy(db: Any, org_id: str, source: str | None = None) -> None:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, source or POLICY.read_text())
        policies.publish(s, principal, version)


@pytest.fixture
def toko(db, make_org):  # type: ignore[no-untyped-def]
    """Organisation 'toko-contoh' with its policy published and an all-scopes API key."""
    org = make_org("toko-contoh")
    publish_policy(db, org.id)
    return org


@pytest.fixture
def toko_lain(db, make_org):  # type: ignore[no-untyped-def]
    """A second organisation with the same policy, for isolation checks."""
    org = make_org("toko-lain")
    publish_policy(db, org.id, POLICY.read_text().replace("slug: toko-contoh", "slug: toko-lain"))
    return org


@pytest.fixture
def principal(toko):  # type: ignore[no-untyped-def]
    return orgs.system_principal(toko.id, "test")


def web_proof(**overrides: Any) -> Proof:
    values: dict[str, Any] = {
        "policy_version": None,
        "text": "Saya ingin menerima buletin promosi dari Toko Contoh.",
        "language": "id",
        "channel": "web",
        "method": "checkbox",
        "source": "https://toko.example/daftar",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "client_addr": "203.0.113.77",
    }
    values.update(overrides)
    return Proof(**values)


@pytest.fixture
def proof() -> Callable[..., Proof]:
    return web_proof
