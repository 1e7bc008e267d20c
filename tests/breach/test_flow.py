"""A breach from detection to delivered notices: register, affected subjects from the data map,
notices drafted in id and en, a DPO's approval, e-mail through a real SMTP server, delivery
tracking, the authority's document and the evidence pack."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from privasi.breach import affected, documents, jobs, notices
from privasi.breach import service as breaches
from privasi.db import utcnow
from privasi.errors import Forbidden, InvalidTransition, ValidationFailed
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects

from .conftest import body_of

HOW = {
    "id": "Salinan cadangan basis data pasien dapat diakses publik selama dua hari.",
    "en": "A backup copy of the patient database was publicly reachable for two days.",
}
MEASURES = {
    "id": "Akses publik sudah ditutup, kata sandi diganti, dan audit keamanan sedang berjalan.",
    "en": "Public access was closed, passwords were changed and a security audit is under way.",
}


def _breach(db, clinic, **overrides):
    values = {
        "title": "Cadangan basis data terbuka",
        "detected_at": utcnow() - timedelta(hours=1),
        "occurred_from": utcnow() - timedelta(days=3),
        "severity": "high",
        "categories": ["contact", "health"],
        "description": HOW,
        "measures": MEASURES,
    }
    values.update(overrides)
    with db.session(clinic.id) as s:
        return breaches.create(s, clinic.dpo, **values).id


def test_breach_from_creation_to_delivered_notices(
    db, clinic, clinic_db, smtp_server, use_settings, drain
):
    use_settings(smtp_url=smtp_server.url, mail_from="noreply@klinik.example")
    system = orgs.system_principal(clinic.id)
    with db.session(clinic.id) as s:
        dewi = subjects.find_or_create(
            s, system, {"email": "dewi@pasien.example", "whatsapp": "+6281234500001"}
        )
        subjects.set_age(s, system, dewi, declared_age=15)
        dewi.created_at = utcnow() - timedelta(days=30)  # on record well before the breach
        dewi_id = dewi.id
    breach_id = _breach(db, clinic)

    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        found = affected.discover(s, clinic.dpo, breach)
        counts = affected.counts(s, breach)
    # privasi's own store gives Dewi; the clinic database gives Ayu and Bima (Citra came after
    # the breach; the row without a valid address is counted, never shown); the paper archive
    # cannot be listed from here.
    assert found.added == 3 and found.created_subjects == 2 and found.unmatched == 1
    assert found.needs_import == ["paper"]
    assert counts["total"] == 3
    assert counts["per_category"] == {"contact": 3, "health": 2}
    assert counts["minors"] == 1 and counts["minors_share"] == 33.3
    assert counts["specific"] == 2 and counts["specific_share"] == 66.7

    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        drafted = notices.draft(s, clinic.dpo, breach)
        assert [n.audience for n in drafted] == ["subjects", "authority"]
        with pytest.raises(InvalidTransition):
            notices.send(s, clinic.dpo, breach, "subjects")
        with pytest.raises(Forbidden):
            notices.approve(s, clinic.owner, breach, "subjects")
        notices.approve(s, clinic.dpo, breach, "subjects")
        stats = notices.send(s, clinic.dpo, breach, "subjects")
    # Dewi has a WhatsApp id and appointments are a contract purpose that uses WhatsApp.
    assert stats == {"email": 3, "whatsapp": 1, "unreachable": 0, "remaining": 0}

    drain()
    assert len(smtp_server.messages) == 3
    ayu = smtp_server.to("ayu@pasien.example")[0]
    assert "kegagalan pelindungan data pribadi" in ayu["Subject"]
    text = body_of(ayu)
    assert "Catatan kesehatan" in text and "Data kontak" in text
    assert HOW["id"] in text and MEASURES["id"] in text
    assert "insiden@klinik.example" in text and "BR-0001" in text
    dewi_text = body_of(smtp_server.to("dewi@pasien.example")[0])
    assert "Catatan kesehatan" not in dewi_text  # only the categories of hers that were exposed

    with db.session(clinic.id) as s:
        assert jobs.check_org(s)["deliveries"] == 4
        breach = breaches.get(s, breach_id)
        counted = notices.delivery_counts(s, breach)
        rows = notices.deliveries(s, breach)
        whatsapp = next(r for r in rows if r.channel == "whatsapp")
        kinds = [e.kind for e in breaches.timeline(s, breach)]
    # No WhatsApp credentials are stored: the attempt fails and says why, without the number.
    assert counted == {"subjects": {"sent": 3, "failed": 1}}
    assert whatsapp.recipient == dewi_id and "whatsapp" in (whatsapp.error or "")
    assert kinds.count("notice_delivered") == 1

    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        document = documents.authority_document(s, clinic.dpo, breach)
        with pytest.raises(InvalidTransition):
            breaches.close(s, clinic.dpo, breach, "done")
        notices.approve(s, clinic.dpo, breach, "authority")
        with pytest.raises(ValidationFailed):
            notices.send(s, clinic.dpo, breach, "authority")
        notices.send(
            s, clinic.dpo, breach, "authority", submission="Portal Lembaga PDP, tiket 2026-117"
        )
        clocks = {c.name: c for c in breaches.clocks(s, breach)}
        breaches.close(s, clinic.dpo, breach, "Semua pemberitahuan terkirim.")
        pack = documents.evidence_pack(s, clinic.dpo, breach)
    assert "Pemberitahuan kegagalan pelindungan data pribadi" in document
    assert "Notice of a personal data breach" in document
    assert "Jumlah: 3" in document and "Number: 3" in document
    assert "Anak: 1 (33.3%)" in document
    assert "@pasien.example" not in document
    assert all(c.met_at is not None and not c.overdue(utcnow()) for c in clocks.values())

    encoded = json.dumps(pack)
    assert "@pasien.example" not in encoded and "+62812" not in encoded
    assert pack["breach"]["status"] == "closed"
    assert [n["audience"] for n in pack["notices"]] == ["subjects", "authority"]
    assert pack["notices"][0]["approved_by"] == clinic.dpo.actor
    assert pack["deliveries"]["counts"]["subjects"] == {"sent": 3, "failed": 1}
    assert pack["deliveries"]["counts"]["authority"] == {"submitted": 1}
    assert "Catatan kesehatan" in pack["notices"][0]["text"]["id"]["text"]
    assert "Health notes" in pack["notices"][0]["text"]["en"]["text"]
    timeline = [e["kind"] for e in pack["timeline"]]
    for kind in (
        "recorded",
        "affected_discovered",
        "notice_drafted",
        "notice_approved",
        "notice_sent",
        "notice_delivered",
        "authority_exported",
        "closed",
    ):
        assert kind in timeline


def test_import_list_matches_by_blind_index(db, clinic):
    system = orgs.system_principal(clinic.id)
    with db.session(clinic.id) as s:
        known = subjects.find_or_create(s, system, {"email": "eko@pasien.example"}).id
        phone = subjects.find_or_create(s, system, {"phone": "+6281234500009"}).id
    breach_id = _breach(db, clinic, categories=["health"])
    listed = "email,phone\nEKO@pasien.example,\n,081234500009\nnobody@pasien.example,\n"
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        result = affected.import_list(s, clinic.dpo, breach, affected.parse_list(listed))
        rows = affected.affected_rows(s, breach)
    assert result.added == 2 and result.unmatched == 1
    assert {r.subject_id for r in rows} == {known, phone}
    assert all(r.categories == ["health"] and r.specific for r in rows)


def test_notice_needs_both_languages_and_editing_reopens_approval(db, clinic):
    breach_id = _breach(db, clinic, measures={"id": MEASURES["id"]})
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        with pytest.raises(ValidationFailed, match=r"measures\.en"):
            notices.draft(s, clinic.dpo, breach)
        breaches.update(s, clinic.dpo, breach, {"measures": MEASURES})
        notices.draft(s, clinic.dpo, breach)
        notices.approve(s, clinic.dpo, breach, "subjects")
        breaches.update(s, clinic.dpo, breach, {"severity": "critical"})
        assert notices.get_notice(s, breach, "subjects").status == "approved"
        breaches.update(s, clinic.dpo, breach, {"measures": {**MEASURES, "en": "Closed."}})
        assert notices.get_notice(s, breach, "subjects").status == "draft"


def test_a_refused_notice_retried_from_the_outbox_counts_once_sent(
    db, clinic, smtp_server, use_settings, drain
):
    from privasi.notify import service as notify

    use_settings(smtp_url=smtp_server.url)
    smtp_server.refuse["intan@pasien.example"] = "550 5.1.1 mailbox unavailable"
    system = orgs.system_principal(clinic.id)
    with db.session(clinic.id) as s:
        subjects.find_or_create(s, system, {"email": "intan@pasien.example"})
    breach_id = _breach(db, clinic, categories=["contact"])
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        affected.import_list(s, clinic.dpo, breach, [("email", "intan@pasien.example")])
        notices.draft(s, clinic.dpo, breach)
        notices.approve(s, clinic.dpo, breach, "subjects")
        notices.send(s, clinic.dpo, breach, "subjects")
    drain()
    with db.session(clinic.id) as s:
        jobs.check_org(s)
        breach = breaches.get(s, breach_id)
        (row,) = notices.deliveries(s, breach)
        assert row.status == "failed" and row.error == "smtp 550 recipient refused"
        message_id = row.outbox_message_id
    del smtp_server.refuse["intan@pasien.example"]
    with db.session(clinic.id) as s:
        notify.retry(s, message_id)
    drain()
    with db.session(clinic.id) as s:
        jobs.check_org(s)
        breach = breaches.get(s, breach_id)
        assert notices.delivery_counts(s, breach) == {"subjects": {"sent": 1}}
        kinds = [e.kind for e in breaches.timeline(s, breach)]
    assert kinds.count("notice_delivered") == 2
    assert len(smtp_server.to("intan@pasien.example")) == 1


def test_a_long_list_is_sent_in_batches_by_the_worker(db, clinic, monkeypatch):
    from privasi import worker
    from privasi.breach import dispatch

    monkeypatch.setattr(dispatch, "BATCH", 2)
    system = orgs.system_principal(clinic.id)
    from privasi.consent import service as consent
    from privasi.notify import service as notify

    with db.session(clinic.id) as s:
        for name in ("joko", "kartika", "lestari", "made", "nadia"):
            subject = subjects.find_or_create(s, system, {"email": f"{name}@pasien.example"})
        # Nadia consented in English: her notice is in English, the others' in Indonesian.
        proof = consent.Proof(None, "Send me the newsletter", "en", "web", "checkbox")
        consent.grant(s, system, subject, "newsletter", proof)
        nadia = subject.id
    breach_id = _breach(db, clinic, categories=["contact"])
    listed = "\n".join(
        f"{n}@pasien.example" for n in ("joko", "kartika", "lestari", "made", "nadia")
    )
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        affected.import_list(s, clinic.dpo, breach, affected.parse_list(listed))
        notices.draft(s, clinic.dpo, breach)
        notices.approve(s, clinic.dpo, breach, "subjects")
        stats = notices.send(s, clinic.dpo, breach, "subjects")
    assert stats == {"email": 2, "whatsapp": 0, "unreachable": 0, "remaining": 3}
    worker.tick(db)
    worker.tick(db)
    with db.session(clinic.id) as s:
        rows = notices.deliveries(s, breaches.get(s, breach_id))
    assert len(rows) == 5 and len({r.recipient for r in rows}) == 5
    assert {r.channel for r in rows} == {"email"}
    with db.session(clinic.id) as s:
        langs = {r.recipient: notify.message_status(s, r.outbox_message_id).lang for r in rows}
    assert langs.pop(nadia) == "en" and set(langs.values()) == {"id"}
