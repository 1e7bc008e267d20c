"""In a real browser: an owner signs in with TOTP and works a correction request from received
to completed (verify, approve, tick off the CRM); the clocks tick; screenshots of the main pages
are kept under test-artifacts/screenshots/. One browser for the module, so one test."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from privasi.db import Database, utcnow
from privasi.rights import execution

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@pytest.mark.browser
def test_owner_works_a_request_from_received_to_completed(
    chromium: Any, live_server: str, make_staff: Any, shop: Any, db: Database
) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    owner = make_staff(
        "owner", slug=shop.slug, email="dewi@toko-melati.contoh.test", with_totp=True
    )
    rid = shop.request(db, "rectification", details={"changes": {"email": "sari.baru@contoh.id"}})
    shop.request(db, "access", received_at=utcnow() - timedelta(days=4))
    page = chromium.new_page(viewport={"width": 1200, "height": 900}, locale="id-ID")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Organisasi").fill(owner.org_slug)
    page.get_by_label("Alamat e-mail").fill(owner.email)
    page.get_by_label("Kata sandi").fill(owner.password)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url("**/admin/login/totp")
    page.get_by_label("Kode 6 digit").fill(owner.code())
    page.get_by_role("button", name="Verifikasi").click()
    page.wait_for_url("**/admin")

    home = page.get_by_test_id("home-requests")
    expect(home.locator(".clock-overdue")).to_contain_text("lewat 1 hari 0 jam dari tenggat")
    expect(home.locator(".clock-ok")).to_contain_text("sisa 2 hari 23 jam")
    page.screenshot(path=str(SHOTS / "admin-home.png"), full_page=True)

    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Permintaan").click()
    page.wait_for_url("**/admin/requests")
    expect(page.get_by_test_id("weekly-chart").locator("rect.bar-open")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "admin-requests.png"), full_page=True)
    page.get_by_test_id("request-queue").get_by_role("link", name="REQ-000001").click()
    page.wait_for_url(f"**/admin/requests/{rid}")

    page.get_by_label("Yang Anda periksa").fill("Pemohon menelepon dari nomor yang tercatat.")
    page.get_by_role("button", name="Konfirmasi identitas").click()
    expect(page.get_by_role("status")).to_contain_text("Identitas sudah diverifikasi")
    expect(page.get_by_test_id("verified")).to_contain_text("diperiksa oleh staf")

    page.get_by_role("button", name="Setujui perbaikan").click()
    expect(page.get_by_role("status")).to_contain_text("Perbaikan sudah disetujui")
    page.screenshot(path=str(SHOTS / "admin-request-detail.png"), full_page=True)

    execution.run_tasks(db, rid)  # the worker applies the correction in privasi
    page.reload()
    tasks = page.get_by_test_id("tasks")
    expect(tasks.get_by_text("Selesai", exact=True)).to_have_count(2)
    page.get_by_label("Catatan untuk CRM Pelanggan").fill("E-mail diperbaiki di CRM.")
    page.get_by_role("button", name="Selesai di CRM Pelanggan").click()
    expect(page.get_by_role("status")).to_contain_text("Tugas ditandai selesai.")
    # The courier got the correction too: the last task, and the request is done.
    courier = page.get_by_role("button", name="Selesai di PT Kurir Kilat Contoh")
    page.get_by_label("Catatan untuk PT Kurir Kilat Contoh").fill("Kurir sudah diberi tahu.")
    courier.click()
    expect(page.get_by_role("status")).to_contain_text("Permintaan sudah selesai.")
    expect(page.locator(".page-head .badge")).to_have_text("Selesai")

    # The subject's page, found by phone number (the e-mail address was just corrected).
    page.get_by_role("navigation", name="Menu utama").get_by_role(
        "link", name="Subjek data"
    ).click()
    page.get_by_label("Alamat e-mail atau nomor telepon").fill("0812 3456 7001")
    page.get_by_role("button", name="Cari", exact=True).click()
    page.get_by_test_id("search-result").get_by_role("link").click()
    expect(page.get_by_test_id("subject-requests")).to_contain_text("Selesai")
    page.screenshot(path=str(SHOTS / "admin-subject.png"), full_page=True)

    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Staf").click()
    expect(page.get_by_role("heading", name="Staf", exact=True)).to_be_visible()
    page.screenshot(path=str(SHOTS / "admin-staff.png"), full_page=True)

    # On a phone the menu scrolls sideways and the queue table scrolls inside its card.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server}/admin/requests")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(SHOTS / "admin-requests-phone.png"), full_page=True)
    assert not errors, errors
    page.close()

    # One browser per module: the live countdown is checked in the same run.
    _countdown_turns_overdue(chromium, live_server, make_staff, shop, db)


def _countdown_turns_overdue(
    chromium: Any, live_server: str, make_staff: Any, shop: Any, db: Database
) -> None:
    """With the page's clock run forward, a request due in 10 minutes turns overdue, live."""
    from playwright.sync_api import expect

    agent = make_staff("agent", slug=shop.slug, email="tono@toko-melati.contoh.test")
    shop.request(db, "access", received_at=utcnow() - timedelta(hours=71, minutes=50))
    page = chromium.new_page(locale="en-US")
    page.clock.install()
    page.goto(f"{live_server}/admin/login?lang=en")
    page.get_by_label("Organisation").fill(agent.org_slug)
    page.get_by_label("E-mail address").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/admin")
    item = page.get_by_test_id("home-requests").locator("li", has_text="REQ-000003")
    clock = item.locator("[data-countdown]")
    expect(clock).to_contain_text("left")
    expect(clock).to_have_class("clock clock-soon")
    page.clock.fast_forward("00:15:00")  # past the due time; the page is not reloaded
    expect(clock).to_contain_text("past due")
    expect(clock).to_have_class("clock clock-overdue")
    expect(clock.locator(".clock-flag")).to_have_text("Overdue")
