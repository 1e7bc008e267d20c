"""Finding a data subject through the blind indexes and the subject's page."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.db import Database

from .conftest import EMAIL


def test_search_by_email_and_phone_in_any_format(
    client: TestClient, pages: Any, signed_in: Any, shop: Any
) -> None:
    signed_in("agent")
    link = f'href="/admin/subjects/{shop.customer_id}"'
    for query in (EMAIL.upper(), "0812-3456-7001", "+62 812 3456 7001"):
        found = pages.post_form("/admin/subjects/search", {"q": query}, page="/admin/subjects")
        assert found.status_code == 200, query
        result = found.text.split('data-testid="search-result"')[1]
        assert link in result.split("</div>")[0], query

    nobody = pages.post_form(
        "/admin/subjects/search", {"q": "tidak.ada@contoh.example"}, page="/admin/subjects"
    )
    assert "Tidak ada orang dengan alamat e-mail atau nomor telepon ini." in nobody.text
    assert "tidak.ada@contoh.example" not in nobody.text.split("</form>")[1]
    invalid = pages.post_form(
        "/admin/subjects/search", {"q": "bukan-nomor"}, page="/admin/subjects"
    )
    assert invalid.status_code == 400
    assert "Masukkan alamat e-mail atau nomor telepon." in invalid.text


def test_subject_page_shows_consent_history_and_requests_and_is_audited(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    signed_in("dpo")
    page = client.get(f"/admin/subjects/{shop.customer_id}")
    assert page.status_code == 200
    assert EMAIL in page.text and "+6281234567001" in page.text
    history = page.text.split('data-testid="consent-history"')[1].split("</table>")[0]
    assert "Buletin" in history and "diberikan" in history  # the purpose's name in the policy
    assert f'href="/admin/requests/{rid}"' in page.text
    with db.session(shop.org_id) as s:
        reads = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "subject.read", AuditEvent.subject_id == shop.customer_id
            )
        ).all()
    assert len(reads) == 1


def test_search_needs_csrf_and_the_subjects_permission(
    client: TestClient, pages: Any, signed_in: Any, shop: Any
) -> None:
    signed_in("agent")
    assert client.post("/admin/subjects/search", data={"q": EMAIL}).status_code == 403
    signed_in("auditor")
    assert client.get(f"/admin/subjects/{shop.customer_id}").status_code == 403
    csrf = pages.csrf_of_home()
    answer = client.post("/admin/subjects/search", data={"q": EMAIL, "csrf_token": csrf})
    assert answer.status_code == 403
