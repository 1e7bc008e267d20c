"""The staff pages: the register with its clocks, a breach's page, and the notice steps a DPO and
an owner take there; roles without the permission and other organisations are kept out."""

from __future__ import annotations

import re

from privasi.breach import models
from privasi.breach import service as breaches
from privasi.db import utcnow
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects
from privasi.web.i18n import LANGUAGES, catalogue

from .conftest import csrf_of, publish


def _post(client, page_url, action, data=None):
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def test_every_label_the_pages_pick_by_value_exists():
    values = {
        "status": models.STATUSES,
        "severity": models.SEVERITIES,
        "clock": models.AUDIENCES,
        "notice_status": models.NOTICE_STATUSES,
        "delivery": models.DELIVERY_STATUSES,
        "event": (
            "recorded",
            "confirmed",
            "updated",
            "notice_reopened",
            "dismissed",
            "closed",
            "action",
            "affected_discovered",
            "affected_imported",
            "notice_drafted",
            "notice_approved",
            "notice_sent",
            "notice_delivered",
            "authority_exported",
            "evidence_exported",
            "escalated",
            "clock_overdue",
        ),
    }
    for lang in LANGUAGES:
        strings = catalogue()[lang]
        for prefix, names in values.items():
            for name in names:
                assert f"breaches.{prefix}.{name}" in strings, (lang, prefix, name)
        for audience in models.AUDIENCES:
            assert f"breaches.actions.send_{audience}" in strings


def test_dpo_records_reviews_approves_and_sends_from_the_pages(client, db, clinic, sign_in):
    system = orgs.system_principal(clinic.id)
    with db.session(clinic.id) as s:
        subjects.find_or_create(s, system, {"email": "hana@pasien.example"})
    sign_in(clinic.id, clinic.slug, "dpo", "dpo2@klinik.example")

    register = client.get("/admin/breaches")
    assert register.status_code == 200 and "Belum ada insiden" in register.text
    created = _post(
        client,
        "/admin/breaches",
        "/admin/breaches",
        {
            "title": "Formulir janji temu terbuka",
            "detected_at": "",
            "severity": "high",
            "categories": "contact",
            "description_id": "Formulir menampilkan data pasien lain.",
            "description_en": "The form showed other patients' data.",
            "measures_id": "Formulir dimatikan dan diperbaiki.",
            "measures_en": "The form was taken down and fixed.",
        },
    )
    assert created.status_code == 303
    url = created.headers["location"]
    breach_id = url.rsplit("/", 1)[1]
    page = client.get(url)
    assert page.status_code == 200
    assert "BR-0001 · Formulir janji temu terbuka" in page.text
    assert re.search(r'data-clock="subjects">.*?data-countdown', page.text, re.S)

    listing = "email\nhana@pasien.example\n"
    assert _post(client, url, f"{url}/affected/import", {"listing": listing}).status_code == 303
    assert _post(client, url, f"{url}/notices").status_code == 303
    page = client.get(url)
    assert "Formulir menampilkan data pasien lain." in page.text
    assert "The form showed other patients&#39; data." in page.text
    assert _post(client, url, f"{url}/notices/subjects/approve").status_code == 303
    sent = _post(client, url, f"{url}/notices/subjects/send")
    assert sent.status_code == 303
    page = client.get(url)
    assert 'data-testid="deliveries-subjects"' in page.text
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        assert breach.status == "notifying"
        kinds = [e.kind for e in breaches.timeline(s, breach)]
    assert kinds[-2:] == ["notice_approved", "notice_sent"]

    doc = client.get(f"{url}/authority.md")
    assert doc.status_code == 200 and "Lembaga Pelindungan Data Pribadi" in doc.text
    assert "hana@" not in doc.text
    evidence = client.get(f"{url}/evidence.json")
    assert evidence.status_code == 200 and evidence.json()["affected"]["total"] == 1
    register = client.get("/admin/breaches")
    assert "BR-0001" in register.text and 'data-testid="breach-list"' in register.text


def test_owner_cannot_approve_and_forged_posts_are_refused(client, db, clinic, sign_in):
    with db.session(clinic.id) as s:
        breach = breaches.create(
            s,
            clinic.dpo,
            title="Email salah kirim",
            detected_at=utcnow(),
            categories=["contact"],
            description={"id": "Salah kirim.", "en": "Sent wrongly."},
            measures={"id": "Ditarik.", "en": "Recalled."},
        )
        breach_id = breach.id
    sign_in(clinic.id, clinic.slug, "owner", "owner2@klinik.example")
    url = f"/admin/breaches/{breach_id}"
    assert _post(client, url, f"{url}/notices").status_code == 303
    page = client.get(url)
    assert "Menunggu persetujuan DPO" in page.text and "/notices/subjects/approve" not in page.text
    refused = _post(client, url, f"{url}/notices/subjects/approve")
    assert refused.status_code == 403
    forged = client.post(f"{url}/confirm", data={"csrf_token": "not-the-token"})
    assert forged.status_code == 403
    with db.session(clinic.id) as s:
        assert breaches.get(s, breach_id).confirmed_at is None


def test_agent_and_other_organisations_are_kept_out(client, db, clinic, make_org, sign_in):
    with db.session(clinic.id) as s:
        breach_id = breaches.create(s, clinic.dpo, title="Rahasia Klinik", detected_at=utcnow()).id
    sign_in(clinic.id, clinic.slug, "agent", "agen@klinik.example")
    assert client.get("/admin/breaches").status_code == 403
    assert client.get(f"/admin/breaches/{breach_id}").status_code == 403

    other = make_org("apotek-lain")
    publish(db, other.id, (clinic_text := _policy("apotek-lain")))
    assert clinic_text
    sign_in(other.id, "apotek-lain", "dpo", "dpo@apotek.example")
    register = client.get("/admin/breaches")
    assert register.status_code == 200 and "Rahasia Klinik" not in register.text
    for path in ("", "/evidence.json", "/authority.md"):
        r = client.get(f"/admin/breaches/{breach_id}{path}")
        assert r.status_code == 404 and "Rahasia Klinik" not in r.text
    r = _post(client, "/admin/breaches", f"/admin/breaches/{breach_id}/confirm")
    assert r.status_code == 404


def _policy(slug: str) -> str:
    from .conftest import POLICY

    return POLICY.read_text().replace("slug: klinik-contoh", f"slug: {slug}")
