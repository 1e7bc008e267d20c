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
    b_agent = make_staff("agent", slug="kopi-senja", email="agen@kopi-senja.contoh.test")
    pages.full_login(b_agent)

    for path in (
        f"/admin/requests/{rid}",
        f"/admin/requests/{rid}/evidence.json",
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

    csrf = pages.csrf_of_home()
    for path, data in [
        (f"/admin/requests/{rid}/code", {"channel": "email"}),
        (f"/admin/requests/{rid}/retry", {}),
    ]:
        assert client.post(path, data={**data, "csrf_token": csrf}).status_code == 404, path
    with db.session(shop.org_id) as s:
        assert rights.get_request(s, rid).status == "received"

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
