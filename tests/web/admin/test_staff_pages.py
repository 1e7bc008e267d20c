"""Staff management through the pages: the list, a new account's one-time password shown once,
role changes, disabling, resets by an owner, sessions and signing out everywhere."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.db import Database
from privasi.orgs.models import StaffSession, StaffUser

ONE_TIME_RE = re.compile(r'data-testid="one-time-password".*?<code[^>]*>([^<]+)</code>', re.S)


def _user(db: Database, org_id: str, email: str) -> StaffUser:
    with db.session(org_id) as s:
        user = s.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        s.expunge(user)
        return user


def test_owner_creates_an_account_and_sees_its_password_once(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    signed_in("owner")
    listing = client.get("/admin/staff")
    assert listing.status_code == 200
    assert "owner.test@toko-melati.contoh.test" in listing.text

    created = pages.post_form(
        "/admin/staff", {"email": "Dewi@Toko-Melati.contoh.test", "name": "Dewi", "role": "agent"}
    )
    assert created.status_code == 200
    match = ONE_TIME_RE.search(created.text)
    assert match, "the one-time password is shown on the answer"
    one_time = match.group(1).strip()
    assert len(one_time) >= 12
    assert created.headers["cache-control"] == "no-store"

    again = client.get("/admin/staff")
    assert one_time not in again.text
    assert "dewi@toko-melati.contoh.test" in again.text  # normalised
    dewi = _user(db, shop.org_id, "dewi@toko-melati.contoh.test")
    assert dewi.role == "agent" and dewi.must_change_password

    # The same address again is refused with a message in the page's language.
    twice = pages.post_form(
        "/admin/staff", {"email": "dewi@toko-melati.contoh.test", "role": "agent"}
    )
    assert twice.status_code == 400
    assert "Sudah ada akun dengan alamat e-mail ini." in twice.text
    bad = pages.post_form("/admin/staff", {"email": "bukan-alamat", "role": "agent"})
    assert bad.status_code == 400
    assert "Itu tidak tampak seperti alamat e-mail." in bad.text
    assert 'value="bukan-alamat"' in bad.text  # the form keeps what was typed


def test_role_change_disable_and_the_last_owner(
    client: TestClient, pages: Any, signed_in: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    agent = make_staff("agent", slug=shop.slug, email="budi@toko-melati.contoh.test")
    owner = signed_in("owner")
    page = f"/admin/staff/{agent.user_id}"
    assert client.get(page).status_code == 200

    changed = pages.post_form(f"{page}/role", {"role": "dpo"}, page=page)
    assert changed.status_code == 303
    assert _user(db, shop.org_id, agent.email).role == "dpo"
    assert "Peran sudah diubah." in client.get(page).text

    disabled = pages.post_form(f"{page}/active", {"active": "0"}, page=page)
    assert disabled.status_code == 303
    assert _user(db, shop.org_id, agent.email).active is False

    # With the shop's first owner disabled, this owner is the only one left: they cannot
    # disable themselves, nor stop being an owner.
    first = _user(db, shop.org_id, "owner@toko-melati.contoh.test")
    pages.post_form(f"/admin/staff/{first.id}/active", {"active": "0"}, page=page)
    assert _user(db, shop.org_id, first.email).active is False
    own = f"/admin/staff/{owner.user_id}"
    pages.post_form(f"{own}/active", {"active": "0"}, page=own)
    assert _user(db, shop.org_id, owner.email).active is True
    demote = pages.post_form(f"{own}/role", {"role": "agent"}, page=own)
    assert demote.status_code == 303
    assert "setidaknya satu pemilik yang aktif" in client.get(own).text
    assert _user(db, shop.org_id, owner.email).role == "owner"


def test_a_disabled_account_is_signed_out_at_once(
    client: TestClient, pages: Any, signed_in: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    from fastapi.testclient import TestClient as Client

    agent = make_staff("agent", slug=shop.slug, email="rina@toko-melati.contoh.test")
    other = Client(client.app)
    pages_of_agent = type(pages)(other)
    pages_of_agent.full_login(agent)
    assert other.get("/admin").status_code == 200

    signed_in("owner")
    page = f"/admin/staff/{agent.user_id}"
    assert "peramban ini" not in client.get(page).text  # the agent's session, not this one
    pages.post_form(f"{page}/active", {"active": "0"}, page=page)
    assert other.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    with db.session(shop.org_id) as s:
        left = s.scalars(select(StaffSession).where(StaffSession.user_id == agent.user_id)).all()
    assert left == []


def test_totp_and_password_resets_by_an_owner(
    client: TestClient, pages: Any, signed_in: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    dpo = make_staff("dpo", slug=shop.slug, email="joko@toko-melati.contoh.test", with_totp=True)
    signed_in("owner")
    page = f"/admin/staff/{dpo.user_id}"

    reset = pages.post_form(f"{page}/totp-reset", {}, page=page)
    assert reset.status_code == 303
    assert _user(db, shop.org_id, dpo.email).totp_enabled is False

    password = pages.post_form(f"{page}/password-reset", {}, page=page)
    assert password.status_code == 200
    match = ONE_TIME_RE.search(password.text)
    assert match
    assert _user(db, shop.org_id, dpo.email).must_change_password
    # The old password no longer works; the new one leads to the second-factor set-up.
    client.cookies.clear()
    assert pages.login(dpo).status_code == 401
    dpo.password = match.group(1).strip()
    assert pages.login(dpo).headers["location"] == "/admin/mfa/setup"

    with db.session(shop.org_id) as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"staff.mfa_reset", "staff.password_reset"} <= actions


def test_sessions_list_and_sign_out_everywhere_else(
    client: TestClient, pages: Any, signed_in: Any, shop: Any
) -> None:
    from fastapi.testclient import TestClient as Client

    owner = signed_in("owner")
    elsewhere = Client(client.app)
    type(pages)(elsewhere).full_login(owner, steps_ahead=1)
    account = client.get("/admin/account")
    assert account.status_code == 200
    assert account.text.count("<tr>") == 3  # header and two sessions
    assert "peramban ini" in account.text

    ended = pages.post_form("/admin/account/logout-everywhere", {}, page="/admin/account")
    assert ended.status_code == 303
    assert "1 sesi diakhiri." in client.get("/admin/account").text
    assert elsewhere.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/admin").status_code == 200  # this browser stays signed in


def test_roles_on_the_staff_pages(
    client: TestClient, pages: Any, signed_in: Any, shop: Any
) -> None:
    agent = signed_in("agent")
    assert client.get("/admin/staff").status_code == 403
    assert 'href="/admin/staff"' not in client.get("/admin").text
    # Every account can see and end its own sessions.
    own = f"/admin/staff/{agent.user_id}"
    assert client.get("/admin/account").status_code == 200
    home_csrf = pages.csrf_of_home()
    answer = client.post(
        f"{own}/logout-everywhere", data={"csrf_token": home_csrf}, follow_redirects=False
    )
    assert answer.status_code == 303

    signed_in("auditor")
    listing = client.get("/admin/staff")
    assert listing.status_code == 200
    assert 'action="/admin/staff"' not in listing.text  # no create form
    csrf = pages.csrf_of_home()
    refused = client.post(
        "/admin/staff",
        data={"email": "x@toko-melati.contoh.test", "role": "owner", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    other = f"/admin/staff/{agent.user_id}/logout-everywhere"
    assert client.post(other, data={"csrf_token": csrf}).status_code == 403


def test_staff_forms_without_csrf_are_refused(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    owner = signed_in("owner")
    for path, data in [
        ("/admin/staff", {"email": "y@toko-melati.contoh.test", "role": "agent"}),
        (f"/admin/staff/{owner.user_id}/role", {"role": "agent"}),
        (f"/admin/staff/{owner.user_id}/password-reset", {}),
        ("/admin/account/logout-everywhere", {}),
    ]:
        answer = client.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "Formulir ini sudah kedaluwarsa" in answer.text or "kedaluwarsa" in answer.text
    with db.session(shop.org_id) as s:
        assert s.scalar(select(StaffUser).where(StaffUser.email.like("y@%"))) is None


def test_an_owner_signs_someone_out_everywhere(
    client: TestClient, pages: Any, signed_in: Any, make_staff: Any, shop: Any
) -> None:
    from fastapi.testclient import TestClient as Client

    agent = make_staff("agent", slug=shop.slug, email="wati@toko-melati.contoh.test")
    phone, laptop = Client(client.app), Client(client.app)
    type(pages)(phone).full_login(agent)
    type(pages)(laptop).full_login(agent)

    signed_in("owner")
    page = f"/admin/staff/{agent.user_id}"
    listed = client.get(page).text.split('data-testid="sessions"')[1].split("</table>")[0]
    assert listed.count("<tr>") == 3  # header and the two sessions
    ended = pages.post_form(f"{page}/logout-everywhere", {}, page=page)
    assert ended.status_code == 303
    assert "2 sesi diakhiri." in client.get(page).text
    for browser in (phone, laptop):
        assert browser.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/admin").status_code == 200


def test_an_owner_appoints_the_dpo_and_auditors_an_api_key_cannot(
    client: TestClient, pages: Any, signed_in: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    """The DPO and auditors hold what an owner does not (the audit log, breach approvals), yet the
    organisation's owner appoints them (UU PDP Pasal 53); an owner's API key, automation rather
    than the owner, is held to its own permissions (tests/orgs/test_escalation.py)."""
    signed_in("owner")
    listing = client.get("/admin/staff")
    offered = re.findall(r'<option value="(\w+)"', listing.text)
    assert offered == ["owner", "dpo", "agent", "auditor"]
    made = pages.post_form(
        "/admin/staff", {"email": "baru@toko-melati.contoh.test", "role": "auditor"}
    )
    assert made.status_code in (200, 303)
    assert _user(db, shop.org_id, "baru@toko-melati.contoh.test").role == "auditor"
