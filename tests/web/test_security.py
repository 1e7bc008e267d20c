"""CSRF on every form, session cookie flags, and the security headers of HTML pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from privasi.app import create_app
from privasi.db import Database


def _set_cookie(response: Any, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no Set-Cookie for {name}")


@pytest.mark.parametrize("token", [None, "", "x" * 64])
def test_login_post_without_a_valid_csrf_token_is_refused(
    client: TestClient, make_staff: Any, token: str | None
) -> None:
    agent = make_staff("agent")
    client.get("/admin/login")  # the browser has the CSRF cookie; the form field is what is wrong
    data = {"org": agent.org_slug, "email": agent.email, "password": agent.password}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/admin/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "Formulir ini sudah kedaluwarsa" in response.text
    assert client.cookies.get("privasi_session") is None


def test_login_csrf_token_is_bound_to_its_cookie(
    app: Any, client: TestClient, pages: Any, make_staff: Any
) -> None:
    """A token taken from another browser's form is useless without the cookie it was made for."""
    agent = make_staff("agent")
    with TestClient(app) as attacker:
        stolen = pages.csrf(attacker.get("/admin/login"))
    client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={
            "org": agent.org_slug,
            "email": agent.email,
            "password": agent.password,
            "csrf_token": stolen,
        },
        follow_redirects=False,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/logout", {}),
        ("/admin/switch-org", {"org": "toko-melati"}),
        ("/admin/password", {"current_password": "x", "password": "y", "password_confirm": "y"}),
    ],
)
@pytest.mark.parametrize("token", [None, "salah"])
def test_signed_in_forms_without_the_session_csrf_token_are_refused(
    client: TestClient,
    pages: Any,
    make_staff: Any,
    path: str,
    data: dict[str, str],
    token: str | None,
) -> None:
    agent = make_staff("agent")
    pages.full_login(agent)
    if token is not None:
        data = {**data, "csrf_token": token}
    response = client.post(path, data=data, follow_redirects=False)
    assert response.status_code == 403
    # Nothing happened: still signed in, same password.
    assert client.get("/admin").status_code == 200
    pages.logout()
    assert pages.login(agent).headers["location"] == "/admin"


@pytest.mark.parametrize("path", ["/admin/login/totp", "/admin/mfa/setup"])
def test_second_factor_forms_without_the_csrf_token_are_refused(
    client: TestClient, pages: Any, make_staff: Any, path: str
) -> None:
    dpo = make_staff("dpo", with_totp=path.endswith("totp"))
    pages.login(dpo)
    code = dpo.code() if dpo.totp_secret else "123456"
    response = client.post(path, data={"code": code}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/admin", follow_redirects=False).headers["location"] == path


def test_session_cookie_flags_over_http(client: TestClient, pages: Any, make_staff: Any) -> None:
    response = pages.login(make_staff("agent"))
    cookie = _set_cookie(response, "privasi_session").lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP on a developer machine: a Secure cookie would vanish


def test_session_cookie_is_secure_over_https(settings: Any, db: Database, make_staff: Any) -> None:
    agent = make_staff("agent")
    with TestClient(create_app(settings, db=db), base_url="https://testserver") as client:
        form = client.get("/admin/login")
        assert "secure" in _set_cookie(form, "privasi_login_csrf").lower()
        response = client.post(
            "/admin/login",
            data={
                "org": agent.org_slug,
                "email": agent.email,
                "password": agent.password,
                "csrf_token": form.text.split('name="csrf_token" value="')[1].split('"')[0],
            },
            follow_redirects=False,
        )
        cookie = _set_cookie(response, "privasi_session").lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert client.get("/admin").status_code == 200


def test_secure_cookie_can_be_forced_behind_a_tls_proxy(
    settings: Any, db: Database, pages: Any, make_staff: Any
) -> None:
    """Behind a proxy that ends TLS the app sees plain HTTP; PRIVASI_COOKIE_SECURE still forces it."""
    agent = make_staff("agent")
    forced = settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(forced, db=db)) as client:
        form = client.get("/admin/login")
        csrf_cookie = _set_cookie(form, "privasi_login_csrf")
        assert "secure" in csrf_cookie.lower()
        # The test client talks plain HTTP and so keeps Secure cookies to itself; hand it over.
        client.cookies.set("privasi_login_csrf", csrf_cookie.split(";")[0].split("=", 1)[1])
        response = client.post(
            "/admin/login",
            data={
                "org": agent.org_slug,
                "email": agent.email,
                "password": agent.password,
                "csrf_token": pages.csrf(form),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert "secure" in _set_cookie(response, "privasi_session").lower()


@pytest.mark.parametrize("path", ["/admin/login", "/admin", "/admin/login/totp"])
def test_html_responses_carry_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


def test_pages_have_no_inline_scripts_or_styles(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    """The CSP forbids them; a page relying on one would silently break in the browser."""
    owner = make_staff("owner")
    pages.login(owner)
    for path in ["/admin/mfa/setup", "/admin/login?lang=en"]:
        html = client.get(path).text
        assert "<script>" not in html and "<style" not in html and " style=" not in html
        assert " onclick=" not in html
    static = client.get("/static/css/privasi.css")
    assert static.status_code == 200 and "text/css" in static.headers["content-type"]
    assert client.get("/static/js/privasi.js").status_code == 200
