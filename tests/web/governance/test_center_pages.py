"""The privacy center: the notice page's hub of links, and a request's progress on its page."""

from __future__ import annotations

import re
from typing import Any

from privasi.db import Database
from privasi.orgs.service import system_principal


def test_notice_page_links_to_everything_a_person_can_do(
    client: Any, make_org: Any, publish_example: Any
) -> None:
    org = make_org("kopi-kenangan-test")
    publish_example(org)
    for lang, words in (
        ("id", ["Atur persetujuan saya", "Ajukan permintaan", "Pantau permintaan saya"]),
        ("en", ["Manage my consents", "Make a request", "Follow my request"]),
    ):
        page = client.get(f"/privacy/{org.slug}?lang={lang}")
        assert page.status_code == 200
        hub = re.search(r'<nav class="center-hub".*?</nav>', page.text, re.S)
        assert hub
        for word in words:
            assert word in hub.group(0)
        links = re.findall(r'href="([^"]+)"', hub.group(0))
        assert links == [
            "#privacy-notice-text",
            f"/privacy/{org.slug}/consent",
            f"/privacy/{org.slug}/request",
            "#follow-request",
        ]
        assert 'id="privacy-notice-text"' in page.text and 'id="follow-request"' in page.text
    # every link of the hub opens a page
    for path in (f"/privacy/{org.slug}/consent", f"/privacy/{org.slug}/request"):
        assert client.get(path).status_code == 200


def _request(db: Database, org_id: str, status: str | None = None) -> str:
    from privasi.rights import service as rights
    from privasi.rights.models import RightsRequest
    from privasi.rights.records import status_token

    with db.session(org_id) as s:
        request = rights.submit(
            s,
            system_principal(org_id),
            type="access",
            channel="api",
            identifiers={"email": "pemohon@contoh.test"},
        )
        if status is not None:
            s.get(RightsRequest, request.id).status = status  # type: ignore[union-attr]
        return status_token(s, request)


def test_status_page_shows_where_the_request_stands(
    client: Any, db: Database, make_org: Any, publish_example: Any
) -> None:
    org = make_org("toko-baju-test")
    publish_example(org)
    token = _request(db, org.id)
    page = client.get(f"/privacy/{org.slug}/request/{token}?lang=en")
    assert page.status_code == 200
    steps = re.findall(r'<li class="(step-[a-z]+)[^"]*"', page.text)
    assert steps == ["step-now", "step-later", "step-later", "step-later"]
    assert 'aria-current="step"' in page.text
    assert "Completed" in page.text  # the last step, still to come

    refused = _request(db, org.id, status="denied")
    html = client.get(f"/privacy/{org.slug}/request/{refused}?lang=id").text
    steps = re.findall(r'<li class="(step-[a-z]+)( step-stopped)?"', html)
    assert steps == [
        ("step-done", ""),
        ("step-done", ""),
        ("step-done", ""),
        ("step-now", " step-stopped"),
    ]
    assert "Ditolak" in html

    waiting = _request(db, org.id, status="awaiting_requester")
    html = client.get(f"/privacy/{org.slug}/request/{waiting}?lang=en").text
    assert "Waiting for you" in html
    # another organisation's slug with this token finds nothing
    other = make_org("toko-lain-test")
    assert client.get(f"/privacy/{other.slug}/request/{token}").status_code == 404
