"""One real browser run: Debian's Chromium signs in through the pages of a live uvicorn server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.mark.browser
def test_owner_signs_in_through_the_real_pages(
    chromium: Any, live_server: str, make_staff: Any
) -> None:
    from playwright.sync_api import expect

    owner = make_staff("owner", one_time_password=True, name="Dewi Lestari")
    new_password = "rendang-padang-asli-8"
    ARTIFACTS.mkdir(exist_ok=True)
    browser = chromium
    page = browser.new_page(viewport={"width": 1100, "height": 800}, locale="id-ID")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/admin/login")
    expect(page.get_by_role("heading", name="Masuk staf")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 760})  # a phone: the form still fits
    page.screenshot(path=str(ARTIFACTS / "login-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.get_by_label("Organisasi").fill(owner.org_slug)
    page.get_by_label("Alamat e-mail").fill(owner.email)
    page.get_by_label("Kata sandi").fill(owner.password)
    page.get_by_role("button", name="Masuk", exact=True).click()

    page.wait_for_url("**/admin/mfa/setup")
    expect(page.locator("figure.qr svg")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "mfa-setup.png"), full_page=True)
    secret = "".join(page.get_by_test_id("totp-secret").inner_text().split())
    page.get_by_label("Kode 6 digit").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Aktifkan verifikasi dua langkah").click()

    page.wait_for_url("**/admin/password")
    page.get_by_label("Kata sandi baru", exact=True).fill(new_password)
    page.get_by_label("Ulangi kata sandi baru").fill(new_password)
    page.get_by_role("button", name="Simpan kata sandi").click()

    page.wait_for_url("**/admin")
    expect(page.get_by_test_id("acting-org")).to_contain_text("Toko Melati")
    expect(page.get_by_test_id("role")).to_have_text("Pemilik")
    expect(page.get_by_role("status")).to_contain_text("Kata sandi Anda sudah diganti")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-home.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login")
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    assert not errors, errors  # e.g. a CSP violation is reported on the console


def test_a_missing_browser_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, browser_check: Any
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium is missing"):
        browser_check(tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        browser_check(tmp_path / "no-chromium")
