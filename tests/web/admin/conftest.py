"""Fixtures for the dashboard pages: the Toko Melati shop with a published policy, a customer with
consent, rights requests in several states, and signed-in staff of each role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from privasi.consent import service as consent
from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import service as rights
from privasi.subjects import service as subjects

POLICY = Path(__file__).parent / "data" / "warung.yaml"
EMAIL = "sari.wulandari@contoh.example"
PHONE = "+6281234567001"
SLUG = "toko-melati"


def publish(db: Database, org_id: str, slug: str) -> None:
    source = POLICY.read_text().replace("slug: warung-contoh", f"slug: {slug}")
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, source)
        policies.publish(s, principal, version)


@dataclass
class Shop:
    org_id: str
    slug: str
    customer_id: str

    def request(
        self,
        db: Database,
        type: str = "access",
        *,
        received_at: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        with db.session(self.org_id) as s:
            made = rights.submit(
                s,
                orgs.system_principal(self.org_id, "test"),
                type=type,
                channel="privacy_center",
                subject_id=self.customer_id,
                details=details,
                received_at=received_at,
            )
            return made.id


def make_shop(db: Database, make_staff: Callable[..., Any], slug: str, name: str) -> Shop:
    owner = make_staff("owner", slug=slug, org_name=name, with_totp=True)
    publish(db, owner.org_id, slug)
    with db.session(owner.org_id) as s:
        principal = orgs.system_principal(owner.org_id, "test")
        sari = subjects.find_or_create(s, principal, {"email": EMAIL, "phone": PHONE})
        consent.grant(
            s,
            principal,
            sari,
            "newsletter",
            consent.Proof(None, "Kirimi saya buletin.", "id", "web", "checkbox"),
        )
        customer_id = sari.id
    return Shop(owner.org_id, slug, customer_id)


@pytest.fixture
def shop(db: Database, make_staff: Callable[..., Any]) -> Shop:
    """Toko Melati with its owner (TOTP on), its policy and Sari, a customer."""
    return make_shop(db, make_staff, SLUG, "Toko Melati")


@pytest.fixture
def signed_in(pages: Any, make_staff: Callable[..., Any], shop: Shop) -> Callable[[str], Any]:
    """Sign in as a staff member of the shop with the given role; returns the account."""
    used: dict[str, Any] = {}
    logins: dict[str, int] = {}

    def sign_in(role: str) -> Any:
        if role not in used:
            used[role] = make_staff(
                role,
                slug=shop.slug,
                email=f"{role}.test@{shop.slug}.contoh.test",
                with_totp=role in ("owner", "dpo"),
            )
        staff = used[role]
        pages.client.cookies.clear()
        # A TOTP code is taken once; a second sign-in of the same account uses the next step.
        pages.full_login(staff, steps_ahead=logins.get(role, 0))
        logins[role] = logins.get(role, 0) + 1
        return staff

    return sign_in


@pytest.fixture
def outbox(db: Database) -> Callable[[str], list[Any]]:
    """The queued messages of an organisation, oldest first."""
    from sqlalchemy import select

    from privasi.notify.models import OutboxMessage

    def read(org_id: str) -> list[Any]:
        with db.session(org_id) as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))

    return read
