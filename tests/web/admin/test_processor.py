"""A processor's staff member acting in a hosted organisation: the dashboard shows that
organisation's work, only as far as the hosting grant allows, and their own account stays theirs."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database
from privasi.orgs import service as orgs


def test_processor_staff_work_in_a_hosted_org_within_the_grant(
    client: TestClient, pages: Any, make_staff: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    agent = make_staff(
        "agent", slug="layanan-pesan", org_name="Layanan Pesan", org_role="processor"
    )
    with db.session(system=True) as s:
        processor = orgs.get_org_by_slug(s, "layanan-pesan")
    with db.session(shop.org_id) as s:
        orgs.create_hosting_grant(
            s,
            processor=processor,
            actions=["org.read", "requests.read", "requests.manage"],
            instructions="Tangani permintaan pelanggan yang masuk lewat WhatsApp.",
            approved_subprocessors=[],
        )
    pages.full_login(agent)
    pages.post_form("/admin/switch-org", {"org": shop.slug}, page="/admin")

    home = client.get("/admin")
    assert re.search(r'data-testid="acting-org">Toko Melati', home.text)
    assert f'href="/admin/requests/{rid}"' in home.text
    nav = re.search(r'<nav class="admin-nav".*?</nav>', home.text, re.S)
    assert nav
    assert "/admin/subjects" not in nav.group(0) and "/admin/staff" not in nav.group(0)
    assert client.get(f"/admin/requests/{rid}").status_code == 200
    assert client.get(f"/admin/subjects/{shop.customer_id}").status_code == 403
    # Verifying needs requests.approve, which the grant does not give.
    detail = client.get(f"/admin/requests/{rid}")
    csrf = pages.csrf(detail)
    refused = client.post(f"/admin/requests/{rid}/verify", data={"csrf_token": csrf, "note": "x"})
    assert refused.status_code == 403

    account = client.get("/admin/account")
    assert account.status_code == 200
    assert agent.email in account.text and "organisasi yang dilayani" in account.text
