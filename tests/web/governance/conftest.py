"""Fixtures for the governance pages: a signed-in staff member of a given role, a published
policy, and a few consent events."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from privasi.db import Database
from privasi.orgs.service import system_principal

MFA_ROLES = {"owner", "dpo"}


@pytest.fixture
def sign_in(make_staff: Any, pages: Any) -> Callable[..., Any]:
    """Create a staff member of ``role`` in Toko Melati and sign them in on the test client."""

    def factory(role: str, **kwargs: Any) -> Any:
        staff = make_staff(role, with_totp=role in MFA_ROLES, **kwargs)
        pages.full_login(staff)
        return staff

    return factory


@pytest.fixture
def publish(publish_example: Any) -> Callable[..., None]:
    """Publish the demo policy for a staff member's organisation."""

    def run(staff: Any, effective: str = "2026-01-01") -> None:
        publish_example(SimpleNamespace(id=staff.org_id, slug=staff.org_slug), effective=effective)

    return run


@pytest.fixture
def consent_events(db: Database) -> Callable[..., list[str]]:
    """Record grants (and optionally withdrawals) of ``purpose`` for new fictional subjects."""
    from privasi.consent import service as consent
    from privasi.subjects import service as subjects

    def record(
        org_id: str, purpose: str, grants: int, withdrawals: int = 0, channel: str = "web"
    ) -> list[str]:
        ids = []
        with db.session(org_id) as s:
            principal = system_principal(org_id)
            for n in range(grants):
                subject = subjects.find_or_create(
                    s, principal, {"email": f"pelanggan{n}-{purpose}@contoh.test"}
                )
                proof = consent.Proof(None, "Saya setuju.", "id", channel, "checkbox")
                consent.grant(s, principal, subject, purpose, proof)
                if n < withdrawals:
                    consent.withdraw(s, principal, subject, purpose, proof)
                ids.append(subject.id)
        return ids

    return record
