"""Another organisation's staff cannot see or touch this organisation's staff, requests or
subjects through the dashboard: every page answers as if the object did not exist."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database
from privasi.rights import service as rights

from .conftest import EMAIL, make_shop


def test_org_b_cannot_reach_org_a_objects(
    client: TestClient, pages: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    other = make_shop(db, make_staff, "kopi-senja", "Kopi Senja")
    other_request = other.request(db, "access")
    # Kopi Senja's owner holds every permission: only the tenant boundary can refuse.
    b_owner = make_staff(
        "owner", slug="kopi-senja", email="bos@kopi-senja.contoh.test", with_totp=True
    )
    pages.full_login(b_owner)

    for path in (
        f"/admin/requests/{rid}",
        f"/admin/requests/{rid}/evidence.json",
        f"/admin/requests/{rid}/export.zip",
        f"/admin/subjects/{shop.customer_id}",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
    # By number too: REQ-000001 is Kopi Senja's own request, never Toko Melati's.
    with db.session(other.org_id) as s:
        own = rights.get_request(s, other_request)
        own_number = rights.display_number(own)
    first = client.get(f"/admin/requests/{own_number}")
    assert first.status_code == 200 and other_request in first.text
    assert rid not in client.get("/admin/requests").text
    assert rid not in client.get("/admin").text

    task_id = "0" * 36
    csrf = pages.csrf_of_home()
    for step, data in [
        ("verify", {"note": "x"}),
        ("code", {"channel": "email"}),
        ("code/check", {"code": "123456"}),
        ("approve", {}),
        ("deny", {"ground": "identity_not_verified", "note": "x"}),
        ("complete", {}),
        (f"tasks/{task_id}", {"status": "done", "note": "x"}),
        ("retry", {}),
        ("download-link", {}),
        ("match", {"q": EMAIL}),
        ("assign", {}),
        ("ask", {"note": "x"}),
        ("resume", {}),
        ("cancel", {"note": "x"}),
    ]:
        answer = client.post(f"/admin/requests/{rid}/{step}", data={**data, "csrf_token": csrf})
        assert answer.status_code == 404, step
    with db.session(shop.org_id) as s:
        untouched = rights.get_request(s, rid)
        assert untouched.status == "received" and untouched.verified_at is None

    # The blind-index search runs with Kopi Senja's keys: Sari of Toko Melati is a different
    # person there, found only as Kopi Senja's own customer.
    found = pages.post_form("/admin/subjects/search", {"q": EMAIL}, page="/admin/subjects")
    assert shop.customer_id not in found.text and other.customer_id in found.text


def test_staff_of_another_org_are_out_of_reach(
    client: TestClient, pages: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    a_agent = make_staff("agent", slug=shop.slug, email="ani@toko-melati.contoh.test")
    other = make_shop(db, make_staff, "kopi-senja", "Kopi Senja")
    assert other.org_id != shop.org_id
    owner_b = make_staff(
        "owner", slug="kopi-senja", email="bos@kopi-senja.contoh.test", with_totp=True
    )
    pages.full_login(owner_b)
    assert client.get(f"/admin/staff/{a_agent.user_id}").status_code == 404
    assert "ani@toko-melati.contoh.test" not in client.get("/admin/staff").text
    csrf = pages.csrf_of_home()
    for action, data in [
        ("logout-everywhere", {}),
        ("active", {"active": "0"}),
        ("password-reset", {}),
        ("role", {"role": "auditor"}),
    ]:
        answer = client.post(
            f"/admin/staff/{a_agent.user_id}/{action}", data={**data, "csrf_token": csrf}
        )
        assert answer.status_code == 404, action
    with db.session(shop.org_id) as s:
        from privasi.orgs import service as orgs

        ani = orgs.get_staff(s, a_agent.user_id)
        assert ani.active and ani.role == "agent" and not ani.must_change_password
