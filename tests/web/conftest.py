"""Fixtures for the staff pages: staff accounts in fictional organisations and a page driver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from privasi.config import Settings
from privasi.db import Database
from privasi.orgs import service as orgs

PASSWORD = "kopi-susu-gula-aren-42"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_RE = re.compile(r'data-testid="totp-secret"[^>]*>(.*?)</p>', re.S)


@dataclass
class Staff:
    org_id: str
    org_slug: str
    user_id: str
    email: str
    password: str
    role: str
    totp_secret: str | None = None

    def code(self, steps_ahead: int = 0) -> str:
        """A TOTP code; the service accepts one step of drift, so +1 gives a fresh, unused step."""
        assert self.totp_secret is not None
        when = datetime.now(UTC) + timedelta(seconds=30 * steps_ahead)
        return pyotp.TOTP(self.totp_secret).at(when)


@pytest.fixture
def make_staff(db: Database, settings: Settings):  # type: ignore[no-untyped-def]
    def factory(
        role: str = "agent",
        *,
        slug: str = "toko-melati",
        org_name: str = "Toko Melati",
        org_role: str = "controller",
        email: str | None = None,
        name: str = "Sari Wulandari",
        one_time_password: bool = False,
        with_totp: bool = False,
    ) -> Staff:
        with db.session(system=True) as s:
            org = orgs.find_org_by_slug(s, slug) or orgs.create_org(
                s, slug, org_name, role=org_role
            )
            org_id = org.id
        email = email or f"{role}@{slug}.contoh.test"
        secret = None
        with db.session(org_id) as s:
            user, one_time = orgs.create_staff(
                s,
                settings,
                email=email,
                role=role,
                name=name,
                password=None if one_time_password else PASSWORD,
            )
            if with_totp:
                secret, _ = orgs.start_totp_enrolment(s, settings, user, slug)
                user.totp_enabled = True
            user_id = user.id
        return Staff(org_id, slug, user_id, email, one_time or PASSWORD, role, secret)

    return factory


def csrf_of(response: Response) -> str:
    match = CSRF_RE.search(response.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Pages:
    """Drives the staff pages the way a browser would: read the form, post it back."""

    csrf = staticmethod(csrf_of)

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def login(
        self, staff: Staff, password: str | None = None, *, org: str | None = None
    ) -> Response:
        form = self.client.get("/admin/login")
        assert form.status_code == 200
        return self.client.post(
            "/admin/login",
            data={
                "org": org if org is not None else staff.org_slug,
                "email": staff.email,
                "password": password if password is not None else staff.password,
                "csrf_token": csrf_of(form),
            },
            follow_redirects=False,
        )

    def post_form(self, path: str, data: dict[str, str], *, page: str | None = None) -> Response:
        """POST a form with the CSRF token read from ``page`` (default: ``path`` itself)."""
        token = csrf_of(self.client.get(page or path))
        return self.client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)

    def enrol_totp(self, staff: Staff) -> Response:
        page = self.client.get("/admin/mfa/setup")
        assert page.status_code == 200
        match = SECRET_RE.search(page.text)
        assert match
        staff.totp_secret = re.sub(r"<[^>]+>|\s", "", match.group(1))
        return self.client.post(
            "/admin/mfa/setup",
            data={"code": staff.code(), "csrf_token": csrf_of(page)},
            follow_redirects=False,
        )

    def full_login(self, staff: Staff, steps_ahead: int = 0) -> None:
        """Password, then the TOTP code if the account has one; ends on the admin home."""
        response = self.login(staff)
        assert response.status_code == 303
        if response.headers["location"] == "/admin/login/totp":
            response = self.post_form("/admin/login/totp", {"code": staff.code(steps_ahead)})
        assert response.headers["location"] == "/admin", response.headers["location"]

    def csrf_of_home(self) -> str:
        return csrf_of(self.client.get("/admin"))

    def logout(self) -> Response:
        return self.post_form("/admin/logout", {}, page="/admin")


@pytest.fixture
def pages(client: TestClient) -> Pages:
    return Pages(client)
