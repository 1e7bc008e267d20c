"""The privacy center's consent page: prove it is you with a code, see consents, withdraw knowingly.

The organisation runs the digimetalab example policy. People and addresses are fictional.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from privasi.audit.models import AuditEvent
from privasi.consent import service as consent
from privasi.consent import verification
from privasi.consent.channels import housekeeping
from privasi.consent.channels.models import VerificationChallenge
from privasi.db import utcnow
from privasi.notify import service as notify
from privasi.notify.models import OutboxMessage
from privasi.orgs.service import system_principal
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "sari.dewi@contoh.example"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CHALLENGE_RE = re.compile(r'name="challenge" value="([^"]+)"')


@pytest.fixture
def agency(db: Any, make_org: Any, publish_example: Any) -> Any:
    org = make_org("agensi-ai")
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
                text="Kirimi saya newsletter.",
                language="id",
                channel="web",
                method="checkbox",
            ),
        )
        org.subject_id = subject.id
    return org


def base(org: Any) -> str:
    return f"/privacy/{org.slug}/consent"


def csrf(page: Any) -> str:
    match = CSRF_RE.search(page.text)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def ask_code(client: Any, org: Any, address: str = EMAIL) -> Any:
    start = client.get(base(org))
    assert start.status_code == 200
    return client.post(f"{base(org)}/start", data={"address": address, "csrf_token": csrf(start)})


def sent_code(db: Any, org: Any) -> str:
    with db.session(org.id) as s:
        messages = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "verification_code")
        ).all()
        assert messages, "a code was queued"
        payload = notify.open_payload(vault_for(s), messages[-1])
    return str(payload["params"]["code"])


def sign_in(client: Any, db: Any, org: Any) -> None:
    page = ask_code(client, org)
    challenge = CHALLENGE_RE.search(page.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"{base(org)}/verify",
        data={"challenge": challenge, "code": sent_code(db, org), "csrf_token": csrf(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == base(org)


def reason(db: Any, org: Any) -> str:
    with db.session(org.id) as s:
        return consent.check(s, [org.subject_id], "marketing")[0].reason


def test_a_person_verifies_reads_the_consequences_and_withdraws(
    client: Any, db: Any, agency: Any
) -> None:
    page = ask_code(client, agency)
    assert page.status_code == 200
    assert "Masukkan kode Anda" in page.text
    assert EMAIL not in page.text
    with db.session(agency.id) as s:
        [message] = s.scalars(select(OutboxMessage)).all()
        assert (message.channel, message.template) == ("email", "verification_code")
        assert notify.open_payload(vault_for(s), message)["to"] == EMAIL
        # The code is not in the database in the clear.
        [challenge] = s.scalars(select(VerificationChallenge)).all()
        assert sent_code(db, agency) not in challenge.code_sealed

    challenge_id = CHALLENGE_RE.search(page.text).group(1)  # type: ignore[union-attr]
    wrong = "000000" if sent_code(db, agency) != "000000" else "111111"
    retry = client.post(
        f"{base(agency)}/verify",
        data={"challenge": challenge_id, "code": wrong, "csrf_token": csrf(page)},
    )
    assert retry.status_code == 422
    assert "Sisa percobaan Anda: 4" in retry.text

    done = client.post(
        f"{base(agency)}/verify",
        data={"challenge": challenge_id, "code": sent_code(db, agency), "csrf_token": csrf(page)},
    )
    assert done.status_code == 200
    assert "Persetujuan Anda di Agensi-Ai" in done.text
    assert "Anda sudah memberikan persetujuan." in done.text
    assert "Analitik" in done.text  # every consent purpose is listed, given or not

    confirm = client.get(f"{base(agency)}/withdraw/marketing")
    assert "Cabut persetujuan Anda untuk Pemasaran?" in confirm.text
    assert "pesan terkait layanan tetap dikirim" in confirm.text  # the policy's consequences
    assert reason(db, agency) == "consent"  # reading the consequences withdraws nothing

    after = client.post(f"{base(agency)}/withdraw/marketing", data={"csrf_token": csrf(confirm)})
    assert after.status_code == 200
    assert "Persetujuan Anda untuk Pemasaran sudah dicabut" in after.text
    assert reason(db, agency) == "withdrawn"
    with db.session(agency.id) as s:
        [event] = [e for e in consent.history(s, agency.subject_id) if e.action == "withdrawn"]
        assert (event.channel, event.method, event.source) == ("web", "button", "privacy-center")
        assert event.actor == f"subject:{agency.subject_id}"
        templates = list(s.scalars(select(OutboxMessage.template)))
        assert "consent_withdrawn" in templates
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == agency.subject_id))
        )
        assert "consent.withdrawn" in actions

    # Giving it again is one button, recorded with the text the page showed.
    listing = client.get(base(agency))
    again = client.post(f"{base(agency)}/grant/marketing", data={"csrf_token": csrf(listing)})
    assert "Terima kasih" in again.text
    assert reason(db, agency) == "consent"


def test_an_unknown_address_looks_the_same_and_never_verifies(
    client: Any, db: Any, agency: Any
) -> None:
    page = ask_code(client, agency, "orang.lain@contoh.example")
    assert page.status_code == 200
    assert "Masukkan kode Anda" in page.text
    with db.session(agency.id) as s:
        assert s.scalars(select(OutboxMessage)).all() == []
        [challenge] = s.scalars(select(VerificationChallenge)).all()
        code = verification.vault_for(s).open_for_org(
            agency.id, "secrets", challenge.code_sealed, f"verification:{challenge.id}"
        )
    # Even the right digits fail: there is nobody behind this challenge.
    refused = client.post(
        f"{base(agency)}/verify",
        data={"challenge": challenge.id, "code": code.decode(), "csrf_token": csrf(page)},
    )
    assert refused.status_code == 422


def test_five_wrong_codes_lock_the_challenge(client: Any, db: Any, agency: Any) -> None:
    page = ask_code(client, agency)
    challenge_id = CHALLENGE_RE.search(page.text).group(1)  # type: ignore[union-attr]
    right = sent_code(db, agency)
    wrong = "123456" if right != "123456" else "654321"
    token = csrf(page)
    statuses = [
        client.post(
            f"{base(agency)}/verify",
            data={"challenge": challenge_id, "code": wrong, "csrf_token": token},
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [422, 422, 422, 422, 400]
    late = client.post(
        f"{base(agency)}/verify",
        data={"challenge": challenge_id, "code": right, "csrf_token": token},
    )
    assert late.status_code == 400
    assert "Terlalu banyak kode yang salah" in late.text
    assert (
        client.get(f"{base(agency)}/withdraw/marketing", follow_redirects=False).status_code == 303
    )


def test_codes_expire_after_ten_minutes(db: Any, agency: Any) -> None:
    with db.session(agency.id) as s:
        issued = verification.issue(
            s, purpose="consent_center", subject_id=agency.subject_id, channel="email"
        )
    with db.session(agency.id) as s, pytest.raises(verification.CodeExpired):
        verification.verify(
            s,
            issued.challenge_id,
            issued.code,
            purpose="consent_center",
            now=utcnow() + timedelta(minutes=10, seconds=1),
        )
    with db.session(agency.id) as s:
        # A code for one purpose does not unlock another.
        with pytest.raises(verification.NotFound):
            verification.verify(s, issued.challenge_id, issued.code, purpose="rights_request")
        assert (
            verification.verify(
                s, issued.challenge_id, issued.code, purpose="consent_center"
            ).verified_at
            is not None
        )


def _codes_queued(db: Any, org: Any) -> int:
    with db.session(org.id) as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "verification_code")
        ).all()
        return len(rows)


def test_codes_are_rate_limited_per_person_without_telling_who_is_on_record(
    client: Any, db: Any, agency: Any
) -> None:
    """Past the per-person limit no more codes go out, but the answer is the page anyone gets, an
    unknown address included: a different answer would tell who is a customer."""
    for _ in range(verification.MAX_PER_SUBJECT):
        assert ask_code(client, agency).status_code == 200
    assert _codes_queued(db, agency) == verification.MAX_PER_SUBJECT
    limited = ask_code(client, agency)
    unknown = ask_code(client, agency, "orang.lain@contoh.example")
    assert limited.status_code == unknown.status_code == 200
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", limited.text) == strip.sub("", unknown.text)
    assert _codes_queued(db, agency) == verification.MAX_PER_SUBJECT


def test_codes_are_rate_limited_per_network(app: Any, agency: Any) -> None:
    client = TestClient(app, client=("203.0.113.7", 50000))
    for i in range(verification.MAX_PER_NETWORK):
        assert ask_code(client, agency, f"tamu{i}@contoh.example").status_code == 200
    limited = ask_code(client, agency, "tamu-lagi@contoh.example")
    assert limited.status_code == 429
    assert "Terlalu banyak permintaan kode" in limited.text


def test_forms_need_the_csrf_token_and_the_session_its_organisation(
    app: Any, client: Any, db: Any, agency: Any, make_org: Any, publish_example: Any
) -> None:
    forged = client.post(f"{base(agency)}/start", data={"address": EMAIL})
    assert forged.status_code == 403
    sign_in(client, db, agency)
    other = make_org("agensi-lain")
    publish_example(other)
    # The verified cookie is bound to its organisation's path and id: elsewhere it opens nothing.
    cookie = client.cookies.get("privasi_center")
    with TestClient(app) as stranger:
        stranger.cookies.set("privasi_center", cookie, path=base(other))
        page = stranger.get(base(other))
        assert "Alamat e-mail atau nomor telepon" in page.text


def test_the_page_is_bilingual(client: Any, agency: Any) -> None:
    english = client.get(base(agency) + "?lang=en")
    assert "Your consents" in english.text
    assert "E-mail address or phone number" in english.text
    assert english.headers["cache-control"] == "no-store"
    assert client.get("/privacy/no-such-org/consent").status_code == 404


def test_a_phone_number_gets_its_code_on_whatsapp(client: Any, db: Any, agency: Any) -> None:
    with db.session(agency.id) as s:
        subjects.find_or_create(s, system_principal(agency.id), {"phone": "+6281234567890"})
    page = ask_code(client, agency, "0812-3456-7890")
    assert page.status_code == 200
    with db.session(agency.id) as s:
        [message] = s.scalars(select(OutboxMessage)).all()
        assert (message.channel, message.template) == ("whatsapp", "verification_code")
        assert notify.open_payload(vault_for(s), message)["to"] == "6281234567890"


def test_the_worker_removes_old_challenges(db: Any, agency: Any) -> None:
    with db.session(agency.id) as s:
        old = verification.issue(s, purpose="consent_center", subject_id=None, channel="email")
        fresh = verification.issue(s, purpose="consent_center", subject_id=None, channel="email")
        s.execute(
            update(VerificationChallenge)
            .where(VerificationChallenge.id == old.challenge_id)
            .values(created_at=utcnow() - timedelta(days=2))
        )
    with db.session(system=True) as system:
        assert housekeeping.purge(system) == 1
    with db.session(agency.id) as s:
        assert [c.id for c in s.scalars(select(VerificationChallenge))] == [fresh.challenge_id]


def test_a_minor_cannot_give_consent_here(client: Any, db: Any, agency: Any) -> None:
    with db.session(agency.id) as s:
        subjects.set_age(
            s,
            system_principal(agency.id),
            subjects.get_subject(s, agency.subject_id),
            declared_age=15,
        )
    sign_in(client, db, agency)
    listing = client.get(base(agency))
    refused = client.post(f"{base(agency)}/grant/analytics", data={"csrf_token": csrf(listing)})
    assert "orang tua atau wali" in refused.text
    with db.session(agency.id) as s:
        assert consent.check(s, [agency.subject_id], "analytics")[0].reason == "no_consent"
