"""One-click unsubscribe (RFC 8058): signed expiring links, the mail client's POST, the page.

The organisation runs the digimetalab example policy (marketing by consent, on e-mail). People and
addresses are fictional.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from privasi.consent import service as consent
from privasi.consent.channels import unsubscribe as links
from privasi.db import utcnow
from privasi.notify.models import OutboxMessage
from privasi.orgs.service import system_principal
from privasi.subjects import service as subjects

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "budi.santoso@contoh.example"


@pytest.fixture
def lab(db: Any, make_org: Any, publish_example: Any) -> Any:
    org = make_org("lab-otomasi")
    publish_example(org)
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        subject = subjects.find_or_create(s, principal, {"email": EMAIL})
        consent.grant(
            s,
            principal,
            subject,
            "marketing",
            consent.Proof(
                policy_version=None,
                text="Saya mau menerima newsletter.",
                language="id",
                channel="web",
                method="checkbox",
            ),
        )
        org.subject_id = subject.id
    return org


def link_for(client: Any, org: Any, purpose: str = "marketing", **extra: Any) -> Any:
    return client.post(
        f"/api/v1/subjects/{org.subject_id}/unsubscribe-link",
        headers=org.headers,
        json={"purpose": purpose, **extra},
    )


def reason(db: Any, org: Any) -> str:
    with db.session(org.id) as s:
        return consent.check(s, [org.subject_id], "marketing")[0].reason


def withdrawals(db: Any, org: Any) -> list[Any]:
    with db.session(org.id) as s:
        return [e for e in consent.history(s, org.subject_id) if e.action == "withdrawn"]


def test_the_api_gives_a_link_and_the_headers_for_the_email(client: Any, lab: Any) -> None:
    response = link_for(client, lab, ttl_days=30)
    assert response.status_code == 201
    body = response.json()
    assert body["url"].startswith(f"http://127.0.0.1:8000/consent/{lab.slug}/unsubscribe/")
    assert body["headers"] == {
        "List-Unsubscribe": f"<{body['url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert EMAIL not in body["url"]  # ids only: no address in a URL that logs keep
    # A purpose that does not rest on consent has nothing to unsubscribe from.
    refused = link_for(client, lab, purpose="service_delivery")
    assert refused.status_code == 422
    assert link_for(client, lab, purpose="no_such_purpose").status_code == 422


def test_opening_the_link_shows_a_confirmation_and_withdraws_nothing(
    client: Any, db: Any, lab: Any
) -> None:
    path = link_for(client, lab).json()["url"].removeprefix("http://127.0.0.1:8000")
    page = client.get(path, headers={"Accept-Language": "id"})
    assert page.status_code == 200
    assert "Berhenti menerima Pemasaran dari Lab-Otomasi?" in page.text
    assert "pesan terkait layanan tetap dikirim" in page.text  # the policy's consequences
    english = client.get(path + "?lang=en")
    assert "Stop receiving Marketing from Lab-Otomasi?" in english.text
    assert reason(db, lab) == "consent"


def test_one_click_post_withdraws_at_once_without_a_redirect(app: Any, db: Any, lab: Any) -> None:
    from fastapi.testclient import TestClient

    # A mail client: no cookies, the RFC 8058 body, no redirects followed.
    with TestClient(app, follow_redirects=False) as mail_client:
        url = link_for(mail_client, lab).json()["url"]
        path = url.removeprefix("http://127.0.0.1:8000")
        mail_client.cookies.clear()
        response = mail_client.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "MailBot/1",
            },
        )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert reason(db, lab) == "withdrawn"
    [event] = withdrawals(db, lab)
    assert (event.channel, event.method, event.source) == ("email", "one-click", "list-unsubscribe")
    with db.session(lab.id) as s:
        [mail] = s.scalars(select(OutboxMessage)).all()
    assert (mail.channel, mail.template, mail.subject_id) == (
        "email",
        "unsubscribed",
        lab.subject_id,
    )


def test_a_second_click_records_nothing_new(client: Any, db: Any, lab: Any) -> None:
    path = link_for(client, lab).json()["url"].removeprefix("http://127.0.0.1:8000")
    first = client.post(path, data={"List-Unsubscribe": "One-Click", "via": "page"})
    assert first.status_code == 200
    assert 'data-state="done"' in first.text
    second = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert second.status_code == 200
    assert 'data-state="already"' in second.text
    [event] = withdrawals(db, lab)
    assert event.source == "unsubscribe-page"


def test_altered_foreign_and_expired_links_are_refused(
    client: Any, db: Any, lab: Any, make_org: Any, settings: Any, publish_example: Any
) -> None:
    token = link_for(client, lab).json()["url"].rsplit("/", 1)[1]
    body, mac = token.split(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    assert client.post(f"/consent/{lab.slug}/unsubscribe/{tampered}").status_code == 404
    # The same token presented under another organisation's address is not valid there.
    other = make_org("lain-lagi")
    publish_example(other)
    assert client.post(f"/consent/{other.slug}/unsubscribe/{token}").status_code == 404
    expired = links.make_token(
        settings.resolved_secret_key(),
        lab.id,
        lab.subject_id,
        "marketing",
        utcnow() - timedelta(minutes=1),
    )
    gone = client.post(f"/consent/{lab.slug}/unsubscribe/{expired}")
    assert gone.status_code == 410
    assert "kedaluwarsa" in gone.text
    assert reason(db, lab) == "consent"
