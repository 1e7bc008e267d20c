"""The other steps on a request's page: matching an unmatched request to a person, assigning,
asking the requester (the clock runs on), resuming and cancelling."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.rights import service as rights

from .conftest import PHONE


def _request(db: Database, shop: Any, rid: str) -> Any:
    with db.session(shop.org_id) as s:
        found = rights.get_request(s, rid)
        s.expunge(found)
        return found


def test_an_unmatched_request_is_matched_by_phone(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    with db.session(shop.org_id) as s:
        rid = rights.submit(
            s,
            orgs.system_principal(shop.org_id, "test"),
            type="access",
            channel="email",
            identifiers={"email": "sari.lain@contoh.example"},
        ).id
    page = f"/admin/requests/{rid}"
    signed_in("agent")
    detail = client.get(page)
    assert "belum dicocokkan dengan subjek" in detail.text
    assert 'data-testid="match-form"' in detail.text

    nobody = pages.post_form(f"{page}/match", {"q": "0899 0000 0000"}, page=page)
    assert nobody.status_code == 303
    assert _request(db, shop, rid).subject_id is None
    matched = pages.post_form(f"{page}/match", {"q": PHONE}, page=page)
    assert matched.status_code == 303
    assert _request(db, shop, rid).subject_id == shop.customer_id
    assert "Permintaan sudah dicocokkan dengan orangnya." in client.get(page).text


def test_assign_ask_resume_and_cancel(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database, outbox: Any
) -> None:
    rid = shop.request(db, "erasure")
    page = f"/admin/requests/{rid}"
    agent = signed_in("agent")

    pages.post_form(f"{page}/assign", {"staff_id": agent.user_id}, page=page)
    assert _request(db, shop, rid).assigned_to == agent.user_id
    assert 'data-testid="assignee">Sari Wulandari' in client.get(page).text

    empty = pages.post_form(f"{page}/ask", {"note": " "}, page=page)
    assert empty.status_code == 303 and _request(db, shop, rid).status == "received"
    pages.post_form(f"{page}/ask", {"note": "Mohon kirim nomor pesanan Anda."}, page=page)
    found = _request(db, shop, rid)
    assert found.status == "awaiting_requester" and found.waiting_since is not None
    assert any(m.template == "rights_awaiting_requester" for m in outbox(shop.org_id))
    assert "Menunggu jawaban pemohon" in client.get(page).text

    pages.post_form(f"{page}/resume", {}, page=page)
    assert _request(db, shop, rid).status == "received"

    pages.post_form(f"{page}/cancel", {"note": "Pemohon menarik permintaannya."}, page=page)
    assert _request(db, shop, rid).status == "cancelled"
    after = client.get(page).text
    assert "Permintaan sudah dibatalkan." in after and "Langkah lain" not in after


def test_the_steps_need_requests_manage_and_csrf(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("auditor")
    detail = client.get(page)
    assert "Langkah lain" not in detail.text
    csrf = pages.csrf(detail)
    for step, data in [("assign", {}), ("ask", {"note": "x"}), ("cancel", {"note": "x"})]:
        answer = client.post(f"{page}/{step}", data={**data, "csrf_token": csrf})
        assert answer.status_code == 403, step
    signed_in("owner")
    assert client.post(f"{page}/cancel", data={"note": "tanpa token"}).status_code == 403
    assert _request(db, shop, rid).status == "received"
