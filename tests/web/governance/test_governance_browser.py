"""The governance pages in Debian's Chromium: a person withdraws a consent in the privacy center
and the DPO sees the count change on /admin/consent; the DPO verifies the audit chain with the
button; screenshots of each main page are kept under test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from privasi.db import Database
from privasi.orgs.service import system_principal

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
EMAIL = "ayu.lestari@contoh.test"


def _code(db: Database, org_id: str) -> str:
    from privasi.notify import service as notify
    from privasi.notify.models import OutboxMessage
    from privasi.vault.service import vault_for

    with db.session(org_id) as s:
        message = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "verification_code")
            .order_by(OutboxMessage.created_at.desc())
        ).first()
        assert message is not None
        return str(notify.open_payload(vault_for(s), message)["params"]["code"])


@pytest.mark.browser
def test_withdrawal_shows_on_the_dashboard_and_the_chain_verifies(
    chromium: Any,
    live_server: str,
    db: Database,
    make_staff: Any,
    publish: Any,
    consent_events: Any,
) -> None:
    from playwright.sync_api import expect

    from privasi.consent import service as consent
    from privasi.subjects import service as subjects

    SHOTS.mkdir(parents=True, exist_ok=True)
    dpo = make_staff("dpo", with_totp=True, name="Raka Putra")
    publish(dpo)
    consent_events(dpo.org_id, "marketing", grants=2)
    with db.session(dpo.org_id) as s:
        principal = system_principal(dpo.org_id)
        person = subjects.find_or_create(s, principal, {"email": EMAIL})
        proof = consent.Proof(None, "Saya mau promo.", "id", "whatsapp", "checkbox")
        consent.grant(s, principal, person, "marketing", proof)

    errors: list[str] = []
    staff = chromium.new_page(viewport={"width": 1200, "height": 900}, locale="en-US")
    staff.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    staff.goto(f"{live_server}/admin/login?lang=en")
    staff.fill("input[name=org]", dpo.org_slug)
    staff.fill("input[name=email]", dpo.email)
    staff.fill("input[name=password]", dpo.password)
    staff.locator("main form button[type=submit]").first.click()
    staff.wait_for_url("**/admin/login/totp")
    staff.fill("input[name=code]", dpo.code())
    staff.locator("main form button[type=submit]").first.click()
    staff.wait_for_url("**/admin")

    staff.goto(f"{live_server}/admin/consent")
    expect(staff.get_by_test_id("granted-marketing")).to_have_text("3")
    expect(staff.get_by_test_id("withdrawn-marketing")).to_have_text("0")
    staff.screenshot(path=str(SHOTS / "admin-consent.png"), full_page=True)

    # the person, on a phone, proves who they are and withdraws after reading what it means
    person_page = chromium.new_page(viewport={"width": 375, "height": 740}, locale="id-ID")
    person_page.goto(f"{live_server}/privacy/{dpo.org_slug}")
    person_page.get_by_test_id("center-hub").get_by_role(
        "link", name="Atur persetujuan saya"
    ).click()
    person_page.get_by_label("Alamat e-mail atau nomor telepon").fill(EMAIL)
    person_page.locator("main form button[type=submit]").first.click()
    person_page.fill("input[name=code]", _code(db, dpo.org_id))
    person_page.locator("main form button[type=submit]").first.click()
    person_page.wait_for_url(f"**/privacy/{dpo.org_slug}/consent")
    person_page.screenshot(path=str(SHOTS / "center-consent-phone.png"), full_page=True)
    person_page.get_by_role("link", name="Cabut persetujuan untuk Pemasaran").click()
    expect(person_page.locator("main")).to_contain_text("promo")  # the consequences, first
    person_page.screenshot(path=str(SHOTS / "center-withdraw-phone.png"), full_page=True)
    person_page.locator("main form button[type=submit]").first.click()
    expect(person_page.get_by_role("status")).to_be_visible()
    width = person_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the privacy center scrolls sideways on a phone ({width}px)"

    staff.reload()
    expect(staff.get_by_test_id("granted-marketing")).to_have_text("2")
    expect(staff.get_by_test_id("withdrawn-marketing")).to_have_text("1")
    expect(staff.get_by_test_id("consent-totals")).to_contain_text("1 withdrawn")

    # the audit chain, verified with one button
    staff.goto(f"{live_server}/admin/audit")
    expect(staff.get_by_test_id("audit-events")).to_contain_text("consent.withdrawn")
    staff.get_by_role("button", name="Verify the audit chain").click()
    expect(staff.get_by_test_id("verify-result")).to_contain_text("The audit chain is intact.")
    staff.screenshot(path=str(SHOTS / "admin-audit.png"), full_page=True)

    for name, path in (
        ("admin-policy", "/admin/policy"),
        ("admin-policy-version", "/admin/policy/1"),
        ("admin-records", "/admin/records"),
        ("admin-api-keys", "/admin/api-keys"),
    ):
        staff.goto(f"{live_server}{path}")
        staff.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    # the notice is long: its first screen, with the hub of links, is what matters
    person_page.goto(f"{live_server}/privacy/{dpo.org_slug}")
    person_page.screenshot(path=str(SHOTS / "center-notice-phone.png"))
    staff.goto(f"{live_server}/privacy/{dpo.org_slug}")
    staff.screenshot(path=str(SHOTS / "center-notice.png"))
    staff.set_viewport_size({"width": 375, "height": 740})
    # the pages' own content fits a phone: wide tables scroll inside their box
    overflow = """[...document.querySelectorAll('main *')]
        .filter(e => !e.closest('.table-wrap table') && e.getBoundingClientRect().right > 376)
        .map(e => e.tagName + '.' + e.className).slice(0, 5)"""
    for path in (
        "/admin/consent",
        "/admin/policy",
        "/admin/policy/1",
        "/admin/records",
        "/admin/audit",
        "/admin/api-keys",
    ):
        staff.goto(f"{live_server}{path}")
        assert staff.evaluate(overflow) == [], path
        assert staff.evaluate("document.documentElement.scrollWidth") <= 375, path
    staff.goto(f"{live_server}/admin/consent")
    staff.screenshot(path=str(SHOTS / "admin-consent-phone.png"), full_page=True)
    assert not errors, errors  # a CSP violation would show on the console
