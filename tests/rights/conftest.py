"""Fixtures for the rights tests: the Warung Contoh organisation with its policy and a customer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from privasi.consent import service as consent
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.subjects import service as subjects

POLICY = Path(__file__).parent / "data" / "warung.yaml"
EMAIL = "sari.wulandari@contoh.example"
PHONE = "+6281234567001"


def publish_warung(db: Any, org_id: str, slug: str, **changes: str) -> None:
    source = POLICY.read_text().replace("slug: warung-contoh", f"slug: {slug}")
    for old, new in changes.items():
        source = source.replace(old, new)
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, source)
        policies.publish(s, principal, version)


@pytest.fixture
def warung(db: Any, make_org: Any) -> Any:
    org = make_org("warung-contoh")
    publish_warung(db, org.id, org.slug)
    return org


@pytest.fixture
def customer(db: Any, warung: Any) -> str:
    """Sari, a customer with an e-mail address and a phone number and newsletter consent."""
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "test")
        sari = subjects.find_or_create(s, principal, {"email": EMAIL, "phone": PHONE})
        consent.grant(
            s,
            principal,
            sari,
            "newsletter",
            consent.Proof(None, "Kirimi saya buletin.", "id", "web", "checkbox"),
        )
        return sari.id


@pytest.fixture
def outbox(db: Any) -> Callable[[str], list[Any]]:
    """The queued messages of an organisation, oldest first."""
    from sqlalchemy import select

    from privasi.notify.models import OutboxMessage

    def read(org_id: str) -> list[Any]:
        with db.session(org_id) as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))

    return read
