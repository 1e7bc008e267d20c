"""The dashboard's home: what needs attention now, for each role what it may see, and the
navigation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database, utcnow
from privasi.orgs import service as orgs

NAV_RE = re.compile(r'<nav class="admin-nav".*?</nav>', re.S)


def _nav_links(html: str) -> list[str]:
    match = NAV_RE.search(html)
    assert match
    return re.findall(r'href="([^"]+)"', match.group(0))


def test_home_shows_request_clocks_with_overdue_first(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    shop.request(db, "access")
    shop.request(db, "access", received_at=utcnow() - timedelta(days=5))
    signed_in("agent")
    home = client.get("/admin")
    assert home.status_code == 200
    card = home.text.split('data-testid="home-requests"')[1].split("</section>")[0]
    assert re.search(r"<strong>2</strong> terbuka", card)
    assert re.search(
        r'stat-bad" href="/admin/requests\?overdue=1"><strong>1</strong> terlambat', card
    )
    clocks = re.findall(r'class="clock clock-(\w+)"', card)
    assert clocks == ["overdue", "ok"]
    assert "lewat 2 hari 0 jam dari tenggat" in card and "sisa 2 hari 23 jam" in card
    # Local time in the organisation's zone (Jakarta is UTC+7), said once on the page.
    assert "Waktu ditampilkan dalam zona Asia/Jakarta." in home.text
    assert 'id="clock-words"' in home.text and 'data-left="sisa {span}"' in home.text
    # The organisation card of the first home page is still there.
    assert 'data-testid="acting-org"' in home.text and 'href="/docs"' in home.text


def test_local_times_follow_the_organisation_time_zone(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    with db.session(system=True) as s:
        org = orgs.get_org(s, shop.org_id)
        org.time_zone = "Asia/Jayapura"  # UTC+9
    signed_in("owner")
    page = client.get(f"/admin/requests/{rid}")
    due_iso = re.search(r'data-due="([^"]+)"', page.text)
    assert due_iso
    from datetime import datetime
    from zoneinfo import ZoneInfo

    due = datetime.fromisoformat(due_iso.group(1))
    assert due.astimezone(ZoneInfo("Asia/Jayapura")).strftime("%Y-%m-%d %H:%M") in page.text
    assert "Asia/Jayapura" in page.text


def test_navigation_follows_the_role(client: TestClient, signed_in: Any, shop: Any) -> None:
    signed_in("owner")
    owner = _nav_links(client.get("/admin").text)
    assert owner[:3] == ["/admin", "/admin/requests", "/admin/subjects"]
    assert "/admin/staff" in owner and "/admin/api-keys" in owner
    assert "/admin/audit" not in owner  # owners do not hold audit.read

    signed_in("agent")
    agent = _nav_links(client.get("/admin/requests").text)
    assert "/admin/staff" not in agent and "/admin/breaches" not in agent
    assert "/admin/subjects" in agent and "/admin/retention" in agent
    assert 'href="/admin/requests" aria-current="page"' in client.get("/admin/requests").text

    signed_in("auditor")
    auditor = _nav_links(client.get("/admin").text)
    assert "/admin/audit" in auditor and "/admin/staff" in auditor
    assert "/admin/subjects" not in auditor
    home = client.get("/admin").text
    assert 'data-testid="home-outbox"' in home  # consent.read
    english = client.get("/admin?lang=en").text
    assert ">Home</a>" in english and ">Requests</a>" in english


def test_failed_deliveries_are_listed_without_their_content(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    from privasi.notify import service as notify

    with db.session(shop.org_id) as s:
        message = notify.enqueue(
            s,
            channel="email",
            template="verification_code",
            lang="id",
            params={"code": "482913", "minutes": 10},
            subject_id=shop.customer_id,
        )
        message.status = "failed"
        message.attempts = 10
        message.last_error = "smtp 550"
        message.finished_at = utcnow()
    signed_in("dpo")
    card = client.get("/admin").text.split('data-testid="home-outbox"')[1].split("</section>")[0]
    assert "verification_code" in card and "smtp 550" in card and "10 kali dicoba" in card
    assert "482913" not in card


def test_breaches_and_legal_holds_on_the_home_page(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    from privasi.breach import service as breach
    from privasi.retention import holds

    with db.session(shop.org_id) as s:
        principal = orgs.system_principal(shop.org_id, "test")
        breach.create(
            s,
            principal,
            title="Laptop kasir hilang",
            severity="high",
            detected_at=utcnow() - timedelta(hours=80),
        )
        holds.place(
            s,
            principal,
            scope="subject",
            target=shop.customer_id,
            reason="Sengketa pembayaran di pengadilan",
            owner="Tim Legal",
        )
    erasure = shop.request(db, "erasure")
    signed_in("dpo")
    home = client.get("/admin").text
    breaches = home.split('data-testid="home-breaches"')[1].split("</section>")[0]
    assert "Laptop kasir hilang" in breaches and "clock-overdue" in breaches
    assert "tingkat tinggi" in breaches
    retention = home.split('data-testid="home-retention"')[1].split("</section>")[0]
    assert "Sengketa pembayaran di pengadilan" in retention and "Tim Legal" in retention
    assert "Subjek data" in retention

    detail = client.get(f"/admin/requests/{erasure}").text
    assert 'data-testid="holds"' in detail
    assert "Sengketa pembayaran di pengadilan" in detail

    signed_in("agent")  # no breach.read
    assert 'data-testid="home-breaches"' not in client.get("/admin").text


def test_the_overdue_count_is_exact_past_a_page_of_requests(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    """Counted in the database: a queue longer than any list page still shows its true size."""
    import uuid

    from sqlalchemy import select

    from privasi.rights.models import RightsRequest

    late = shop.request(db, "access", received_at=utcnow() - timedelta(days=5))
    shop.request(db, "access")
    table = RightsRequest.__table__
    with db.engine.begin() as conn:  # copies of the late request, written below the service
        row = dict(conn.execute(select(table).where(table.c.id == late)).mappings().one())
        copies = [{**row, "id": str(uuid.uuid4()), "number": 1000 + i} for i in range(520)]
        conn.execute(table.insert(), copies)
    signed_in("agent")
    card = client.get("/admin").text.split('data-testid="home-requests"')[1].split("</section>")[0]
    assert re.search(r"<strong>522</strong> terbuka", card)
    assert re.search(r'href="/admin/requests\?overdue=1"><strong>521</strong> terlambat', card)
