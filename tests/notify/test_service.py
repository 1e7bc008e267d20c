"""Queueing messages: validation in the caller's transaction, encryption at rest, dedupe,
erasure, and the bilingual templates."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from privasi.errors import ValidationFailed
from privasi.jobs.models import Job
from privasi.notify import delivery
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

from .conftest import status_of


def test_address_and_parameters_are_stored_encrypted(db, org, queue):
    message_id = queue(to="rahasia@pelanggan.example", params={"code": "775533", "minutes": 10})
    with db.session(org.id) as s:
        raw = " ".join(str(v) for v in s.execute(text("SELECT * FROM outbox_messages")).one())
    assert "rahasia@pelanggan.example" not in raw and "775533" not in raw
    assert status_of(db, org.id, message_id).payload_key == "org"


def test_a_message_commits_with_the_callers_change_or_not_at_all(db, org):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.session(org.id) as s:
        notify.enqueue(
            s,
            channel="email",
            template="verification_code",
            lang="id",
            params={"code": "1", "minutes": 10},
            to="budi@pelanggan.example",
        )
        raise Boom
    with db.session(org.id) as s:
        assert notify.list_messages(s).items == []
    with db.session(system=True) as s:
        assert s.scalars(select(Job).where(Job.kind == notify.DELIVER_JOB)).all() == []


def test_same_dedupe_key_queues_one_message(db, org, queue):
    first = queue(to="budi@pelanggan.example", dedupe_key="code:login:1")
    second = queue(to="budi@pelanggan.example", dedupe_key="code:login:1")
    assert first == second
    with db.session(org.id) as s:
        assert len(notify.list_messages(s).items) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": "sms"}, "channel"),
        ({"lang": "fr"}, "lang"),
        ({"template": "welcome"}, "template"),
        ({"params": {"minutes": 10}}, "params"),  # the code is missing
        ({"params": {"code": "1", "minutes": 10, "name": "Budi"}}, "params"),
        ({"to": "not-an-address"}, "to"),
        ({"to": None}, "to"),  # no address and no subject
        ({"channel": "whatsapp", "to": "budi@pelanggan.example"}, "to"),
        ({"channel": "webhook", "to": "ftp://hooks.example/x"}, "to"),
    ],
)
def test_bad_messages_are_refused_with_the_field_named(db, org, changes, field):
    values = {
        "channel": "email",
        "template": "verification_code",
        "lang": "id",
        "params": {"code": "482913", "minutes": 10},
        "to": "budi@pelanggan.example",
        **changes,
    }
    with pytest.raises(ValidationFailed) as raised, db.session(org.id) as s:
        notify.enqueue(s, **values)
    assert raised.value.extra.get("field") == field
    # Never the values themselves in the message: they may be personal data.
    assert "482913" not in raised.value.detail and "Budi" not in raised.value.detail


def test_subjects_address_is_looked_up_when_sending(db, org, settings):
    import mailbox

    with db.session(org.id) as s:
        person = subjects.find_or_create(
            s, orgs.system_principal(org.id), {"email": "wulan@pelanggan.example"}
        )
        message = notify.enqueue(
            s,
            channel="email",
            template="consent_withdrawn",
            lang="id",
            params={"purpose_name": "Buletin"},
            subject_id=person.id,
        )
        assert message.payload_key == "subject"
    assert delivery.deliver(db, message.id) == "sent"
    [mail] = list(mailbox.Maildir(settings.data_dir / "mail", create=False))
    assert mail["To"] == "wulan@pelanggan.example"
    assert mail["Subject"] == "Persetujuan untuk Buletin telah dicabut"


def test_erased_subjects_queued_messages_are_never_sent(db, org, settings):
    with db.session(org.id) as s:
        person = subjects.find_or_create(
            s, orgs.system_principal(org.id), {"email": "hapus@pelanggan.example"}
        )
        message = notify.enqueue(
            s,
            channel="email",
            template="unsubscribed",
            lang="id",
            params={"purpose_name": "Buletin"},
            subject_id=person.id,
        )
        vault = vault_for(s)
    vault.shred(org.id, person.id)

    assert delivery.deliver(db, message.id) == "failed"
    stored = status_of(db, org.id, message.id)
    assert stored.last_error == "subject erased" and stored.payload is None
    assert not (settings.data_dir / "mail").exists()


def test_retry_and_cancel(db, org, queue):
    message_id = queue(channel="whatsapp", to="6281234567890")
    assert delivery.deliver(db, message_id) == "failed"  # no WhatsApp credentials
    with db.session(org.id) as s:
        retried = notify.retry(s, message_id)
        assert retried.status == "pending" and retried.max_attempts == 1 + 10
    with db.session(org.id) as s:
        cancelled = notify.cancel(s, message_id)
        assert cancelled.status == "cancelled" and cancelled.payload is None
    assert delivery.deliver(db, message_id) == "skipped"


def test_every_template_renders_in_both_languages():
    samples = {
        "consent_withdrawn": {"purpose_name": "Buletin"},
        "verification_code": {"code": "120934", "minutes": 10},
        "reconsent": {
            "effective_date": "2026-08-17",
            "purposes": [{"name": "Buletin", "changes": ["data disimpan lebih lama"]}],
        },
        "unsubscribed": {"purpose_name": "Buletin"},
        "delivery_test": {},
    }
    # Other domains add their own templates; these are the outbox's.
    assert set(samples) <= set(notify.template_names())
    for name, params in samples.items():
        for lang in ("id", "en"):
            rendered = notify.render(name, lang, {"org_name": "Kopi Contoh", **params})
            assert rendered.subject and "Kopi Contoh" in rendered.text
            assert "{{" not in rendered.text and "None" not in rendered.text
            assert f'<html lang="{lang}">' in rendered.html
            assert rendered.whatsapp and len(rendered.whatsapp) < len(rendered.text)
    id_text = notify.render("reconsent", "id", {"org_name": "K", **samples["reconsent"]}).text
    assert "17 Agustus 2026" in id_text
    en_text = notify.render("reconsent", "en", {"org_name": "K", **samples["reconsent"]}).text
    assert "17 August 2026" in en_text


def test_html_part_escapes_parameters():
    rendered = notify.render(
        "unsubscribed", "en", {"org_name": "<b>Kopi</b> & Co", "purpose_name": "News"}
    )
    assert "&lt;b&gt;Kopi&lt;/b&gt; &amp; Co" in rendered.html
    assert "<b>Kopi</b>" not in rendered.html


def test_dates_may_be_passed_as_they_are_and_unknown_subjects_are_refused(db, org, queue, settings):
    import mailbox
    from datetime import UTC, datetime

    from privasi.errors import NotFound

    message_id = queue(
        to="budi@pelanggan.example",
        template="consent_withdrawn",
        params={"purpose_name": "Buletin", "when": datetime(2026, 8, 17, 3, 0, tzinfo=UTC)},
    )
    assert delivery.deliver(db, message_id) == "sent"
    [mail] = list(mailbox.Maildir(settings.data_dir / "mail", create=False))
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    # Shown in the organisation's time zone (Asia/Jakarta, UTC+7).
    assert "pada 17 Agustus 2026 pukul 10.00 WIB" in text
    with pytest.raises(NotFound), db.session(org.id) as s:
        notify.enqueue(
            s,
            channel="email",
            template="unsubscribed",
            lang="id",
            params={"purpose_name": "Buletin"},
            subject_id="00000000-0000-0000-0000-000000000000",
        )


def test_every_template_is_complete_in_both_languages():
    from privasi.notify.templates import catalogue

    for spec in catalogue().values():
        for lang in ("id", "en"):
            assert spec.bodies[lang].get("subject") and spec.bodies[lang].get("text"), spec.name
        if spec.whatsapp_template is not None:
            known = {"org_name", *spec.required, *spec.optional}
            assert set(spec.whatsapp_template.parameters) <= known, spec.name
