"""Material policy changes: people whose consented purposes change are told before the new
version takes effect, and their old consent stops covering the new terms from that date."""

from __future__ import annotations

import mailbox
from datetime import date, timedelta
from pathlib import Path

import yaml
from sqlalchemy import select

from privasi import worker
from privasi.audit import service as audit
from privasi.consent import renewal
from privasi.consent import service as consent
from privasi.consent.models import ConsentState
from privasi.jobs.models import Job
from privasi.notify import material
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.policy.diff import diff_policies
from privasi.policy.loader import parse_policy
from privasi.subjects import service as subjects

POLICY = Path(__file__).parent / "data" / "toko.yaml"


def _changed(**edits) -> str:
    """The Toko Contoh policy with the newsletter purpose changed as given."""
    doc = yaml.safe_load(POLICY.read_text())
    for purpose in doc["purposes"]:
        if purpose["id"] == "newsletter":
            purpose.update(edits)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _publish(db, org_id: str, source: str, effective: date | None) -> policies.Published:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, source)
        return policies.publish(s, principal, version, effective_date=effective)


def _people(db, toko, principal, proof):
    """Sari (consented in Indonesian), John (in English), Wati (withdrew), Dodi (WhatsApp only)."""
    with db.session(toko.id) as s:
        sari = subjects.find_or_create(s, principal, {"email": "sari@contoh.example"})
        john = subjects.find_or_create(s, principal, {"email": "john@contoh.example"})
        wati = subjects.find_or_create(s, principal, {"email": "wati@contoh.example"})
        dodi = subjects.find_or_create(s, principal, {"phone": "+6281234567890"})
        consent.grant(s, principal, sari, "newsletter", proof())
        consent.grant(s, principal, john, "newsletter", proof(language="en", text="Send me news"))
        consent.grant(s, principal, wati, "newsletter", proof())
        consent.withdraw(s, principal, wati, "newsletter", proof(text="", method="button"))
        consent.grant(s, principal, dodi, "newsletter", proof())
        return sari.id, john.id, wati.id, dodi.id


def _today(db, org_id) -> date:
    with db.session(org_id) as s:
        return policies.org_today(orgs.get_org(s, org_id))


def test_people_are_told_before_the_change_and_consent_stops_covering_it(
    db, toko, principal, proof, settings
):
    sari, john, wati, dodi = _people(db, toko, principal, proof)
    effective = _today(db, toko.id) + timedelta(days=30)
    published = _publish(db, toko.id, _changed(categories=["contact", "orders"]), effective)
    assert published.diff is not None and published.diff.has_material

    worker.tick(db)

    mails = {m["To"]: m for m in mailbox.Maildir(settings.data_dir / "mail", create=False)}
    assert set(mails) == {"sari@contoh.example", "john@contoh.example"}  # not Wati, who withdrew
    indonesian = mails["sari@contoh.example"].get_payload()[0].get_payload(decode=True).decode()
    assert "mohon persetujuan Anda lagi" in mails["sari@contoh.example"]["Subject"]
    assert "Buletin: memakai lebih banyak jenis data pribadi" in indonesian
    assert f"{effective.day} " in indonesian and "/privacy/toko-contoh/consent" in indonesian
    assert "please consent again" in mails["john@contoh.example"]["Subject"]

    with db.session(toko.id) as s:
        # Until the effective date the old consent still stands; from it, it does not.
        decisions = {d.subject_id: d for d in consent.check(s, [sari, john, wati], "newsletter")}
        assert decisions[sari].allowed and decisions[john].allowed
        assert decisions[wati].reason == "withdrawn"
        state = s.get(ConsentState, (sari, "newsletter"))
        assert state.renew_from == effective and state.renew_version == 2
        [event] = audit.query(s, subject_id=sari, action="consent.renewal_required").items
        assert event.purpose == "newsletter" and event.details["policy_version"] == 2
        # Dodi has no e-mail address: he is reached on WhatsApp (which has no credentials here).
        [to_dodi] = notify.list_messages(s, subject_id=dodi).items
        assert to_dodi.channel == "whatsapp" and to_dodi.template == "reconsent"
        assert to_dodi.last_error.startswith("missing secret whatsapp")


def test_running_again_marks_and_sends_nothing_twice(db, toko, principal, proof, settings):
    _people(db, toko, principal, proof)
    effective = _today(db, toko.id) + timedelta(days=10)
    version = _publish(db, toko.id, _changed(kind="marketing", channels=["email", "sms"]), None)
    assert not version.diff.has_material  # a new channel alone needs no fresh consent
    version = _publish(db, toko.id, _changed(subjects=["customer", "visitor"]), effective).version

    first = material.notify_material_change(db, toko.id, version.id)
    again = material.notify_material_change(db, toko.id, version.id)

    assert first["marked"] == 3 and first["subjects"] == 3
    assert again["marked"] == 0
    with db.session(toko.id) as s:
        assert len(notify.list_messages(s, template="reconsent").items) == 3


def test_a_change_effective_today_expires_the_old_consent_at_once(db, toko, principal, proof):
    sari, *_ = _people(db, toko, principal, proof)
    today = _today(db, toko.id)
    _publish(db, toko.id, _changed(categories=["contact", "technical"]), today)
    with db.session(system=True) as s:
        [job] = s.scalars(select(Job).where(Job.kind == material.JOB)).all()
        assert job.org_id == toko.id

    worker.tick(db)

    with db.session(toko.id) as s:
        [decision] = consent.check(s, [sari], "newsletter")
        # Effective dates are calendar days where the organisation is (Asia/Jakarta here): the
        # check must compare with policies.org_today(), not the UTC date, or a change effective
        # "today" is ignored for seven hours a day.
        assert (decision.allowed, decision.reason) == (False, "expired")
        # Consenting again under the new version clears it.
        person = subjects.get_subject(s, sari)
        consent.grant(s, principal, person, "newsletter", proof())
        [decision] = consent.check(s, [sari], "newsletter")
        assert decision.allowed and decision.reason == "consent"


def test_a_change_that_touches_no_consented_purpose_tells_nobody(db, toko, principal, proof):
    _people(db, toko, principal, proof)
    doc = yaml.safe_load(POLICY.read_text())
    doc["purposes"][0]["categories"].append("technical")  # "orders" is a contract purpose
    _publish(db, toko.id, yaml.safe_dump(doc, sort_keys=False), None)
    worker.tick(db)
    with db.session(toko.id) as s:
        assert notify.list_messages(s, template="reconsent").items == []


def test_touched_purposes_follow_recipients_and_retention():
    old = parse_policy(POLICY.read_text(), "old")
    doc = yaml.safe_load(POLICY.read_text())
    doc["recipients"] = [
        {
            "id": "mailer",
            "name": "Surat Cepat",
            "role": "processor",
            "countries": ["SG"],
            "transfer_safeguard": "binding_safeguards",
            "purposes": ["newsletter"],
        }
    ]
    doc["retention"]["rules"][0]["period"] = "P5Y"
    new = parse_policy(yaml.safe_dump(doc, sort_keys=False), "new")

    touched = renewal.touched_purposes(diff_policies(old, new), new).purposes

    # Retention grows for every purpose using those categories, but only consent ones count.
    assert touched == {
        "newsletter": ["recipient", "retention"],
        "whatsapp_promo": ["retention"],
    }
    assert renewal.reasons_text(touched["newsletter"], "id") == [
        "data dibagikan kepada penerima baru atau lebih banyak data dibagikan",
        "data disimpan lebih lama",
    ]


def test_effective_dates_are_days_where_the_organisation_is(db, make_org, proof):
    """Whatever the hour, one of two far-apart zones has a date other than UTC's: the change
    must take effect on the organisation's own calendar day, not on UTC's."""
    from datetime import UTC, datetime

    from tests.consent.conftest import publish_policy

    ahead = datetime.now(UTC).hour >= 10  # UTC+14 is already on tomorrow's date
    zone = "Pacific/Kiritimati" if ahead else "Etc/GMT+12"  # UTC-12: still on yesterday's
    doc = yaml.safe_load(POLICY.read_text())
    doc["organisation"]["time_zone"] = zone
    org = make_org("toko-contoh")
    principal = orgs.system_principal(org.id, "test")
    with db.session(org.id) as s:
        # The zone first, so the first version's "today" is the organisation's own.
        orgs.update_org(s, orgs.get_org(s, org.id), name=None, time_zone=zone, by=principal)
    publish_policy(db, org.id, yaml.safe_dump(doc, sort_keys=False))
    with db.session(org.id) as s:
        person = subjects.find_or_create(s, principal, {"email": "sari@contoh.example"})
        consent.grant(s, principal, person, "newsletter", proof())
        sari = person.id
    local_today = _today(db, org.id)
    doc["purposes"][3]["categories"] = ["contact", "orders"]  # newsletter uses more data
    # Ahead: effective today there (tomorrow in UTC). Behind: effective tomorrow there (today in
    # UTC), so not yet in effect for the organisation.
    effective = local_today if ahead else local_today + timedelta(days=1)
    _publish(db, org.id, yaml.safe_dump(doc, sort_keys=False), effective)
    worker.tick(db)
    with db.session(org.id) as s:
        [decision] = consent.check(s, [sari], "newsletter")
        expected = (False, "expired") if ahead else (True, "consent")
        assert (decision.allowed, decision.reason) == expected, zone


def test_a_childs_guardian_is_asked_again(db, toko, principal, proof, settings):
    with db.session(toko.id) as s:
        child = subjects.find_or_create(
            s, principal, {"email": "anak@contoh.example"}, declared_age=12
        )
        parent = subjects.find_or_create(
            s, principal, {"email": "ibu@contoh.example"}, declared_age=40
        )
        subjects.link_guardian(s, principal, child, parent, "parent")
        consent.grant(s, principal, child, "newsletter", proof(guardian_id=parent.id))
        child_id, parent_id = child.id, parent.id
    effective = _today(db, toko.id) + timedelta(days=14)
    _publish(db, toko.id, _changed(categories=["contact", "orders"]), effective)

    worker.tick(db)

    [mail] = list(mailbox.Maildir(settings.data_dir / "mail", create=False))
    assert mail["To"] == "ibu@contoh.example"
    with db.session(toko.id) as s:
        [message] = notify.list_messages(s, template="reconsent").items
        assert message.subject_id == parent_id
        assert s.get(ConsentState, (child_id, "newsletter")).renew_from == effective
