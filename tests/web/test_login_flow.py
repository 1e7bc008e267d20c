"""The staff login flow through the real pages: password, TOTP enrolment, password change, home."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_owner_first_login_enrols_totp_then_changes_password(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    owner = make_staff("owner", one_time_password=True, name="Budi Santoso")

    response = pages.login(owner)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/mfa/setup"

    # Until TOTP is set up, every other page sends the owner back to the enrolment.
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/mfa/setup"
    page = client.get("/admin/mfa/setup")
    assert "<svg" in page.text and "otpauth://totp/" in page.text

    response = pages.enrol_totp(owner)
    assert response.headers["location"] == "/admin/password"
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/password"

    response = pages.post_form(
        "/admin/password", {"password": "teh-manis-hangat-77", "password_confirm": "teh-manis-hangat-77"}
    )
    assert response.headers["location"] == "/admin"
    home = client.get("/admin")
    assert home.status_code == 200
    assert "Toko Melati" in home.text
    assert "Pemilik" in home.text  # role, in the default language
    assert 'href="/docs"' in home.text
