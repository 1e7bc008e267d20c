"""Behind a TLS proxy privasi sees plain HTTP, yet every cookie it sets must be Secure: the browser
talks HTTPS to the proxy, and a cookie without Secure would also travel over any plain-HTTP link."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from tests.conftest import make_settings

from privasi.config import Settings
from privasi.web import sessions

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url=database_url, base_url="https://privasi.contoh.test"
    )


def _cookie_lines(response: Any) -> list[str]:
    lines = response.headers.get_list("set-cookie")
    assert lines, "the answer sets a cookie"
    return lines


def _all_secure(response: Any) -> bool:
    return all("; secure" in line.lower() for line in _cookie_lines(response))


def test_cookies_are_secure_with_an_https_base_url_over_plain_http(
    client: TestClient, make_staff: Any, publish_example: Any, make_org: Any
) -> None:
    assert str(client.base_url).startswith("http://")  # what privasi sees behind the proxy
    login = client.get("/admin/login")
    assert _all_secure(login)

    agent = make_staff("agent")
    nonce = client.cookies.get(sessions.LOGIN_CSRF_COOKIE)
    match = CSRF_RE.search(login.text)
    assert nonce and match
    signed_in = client.post(
        "/admin/login",
        data={
            "org": agent.org_slug,
            "email": agent.email,
            "password": agent.password,
            "csrf_token": match.group(1),
        },
        headers={"cookie": f"{sessions.LOGIN_CSRF_COOKIE}={nonce}"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert any(line.startswith(sessions.SESSION_COOKIE) for line in _cookie_lines(signed_in))
    assert _all_secure(signed_in)

    org = make_org("klinik")
    publish_example(org)
    for page in (f"/privacy/{org.slug}/consent", f"/privacy/{org.slug}/request"):
        client.cookies.clear()
        assert _all_secure(client.get(page)), page
    ended = client.post(f"/privacy/{org.slug}/consent/end", follow_redirects=False)
    assert _all_secure(ended)


def _plain_http_request() -> Request:
    scope = {"type": "http", "scheme": "http", "path": "/", "headers": [], "server": ("x", 80)}
    return Request(scope)


def test_production_makes_cookies_secure_whatever_the_request_scheme(tmp_path: Path) -> None:
    request = _plain_http_request()
    development = make_settings(tmp_path, env="development")
    assert sessions.cookie_secure(request, development) is False
    production = make_settings(tmp_path, env="production", cookie_secure=False)
    assert sessions.cookie_secure(request, production) is True
