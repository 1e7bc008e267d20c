"""Identity: a token signed by the business's own session, codes with their attempt limit, and
staff verification with a note."""

from __future__ import annotations

import time
from typing import Any

import pytest

from privasi.orgs import service as orgs
from privasi.rights import identity
from privasi.rights import service as rights
from privasi.vault.service import set_secret

from .conftest import EMAIL

SECRET = "rahasia-sesi-warung-contoh-0123456789"


@pytest.fixture
def signing(db: Any, warung: Any, customer: str) -> str:
    with db.session(warung.id) as s:
        set_secret(s, orgs.system_principal(warung.id), identity.SESSION_SECRET, SECRET)
    return SECRET


def _token(kind: str = "email", value: str = EMAIL, ttl: int = 300, secret: str = SECRET) -> str:
    return identity.sign_session_token(secret, kind, value, int(time.time()) + ttl)


def test_a_token_from_the_business_session_verifies_at_intake(
    client: Any, warung: Any, customer: str, signing: str
) -> None:
    created = client.post(
        "/api/v1/requests",
        json={"type": "access", "identifiers": {"email": EMAIL}, "session_token": _token()},
        headers=warung.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "in_progress"
    assert body["verification_method"] == "account_login"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (lambda: _token(secret="kunci-lain-yang-salah-0123456789"), "signature"),
        (lambda: _token(ttl=-1), "expired"),
        (lambda: _token(ttl=7200), "lives too long"),
        (lambda: _token()[:-2] + ("AA" if not _token().endswith("AA") else "BB"), "signature"),
        (lambda: _token(value="orang.lain@contoh.example"), "nobody"),
        (lambda: "tanpa-titik", "form"),
    ],
)
def test_bad_tokens_are_refused(
    client: Any, warung: Any, customer: str, signing: str, token: Any, why: str
) -> None:
    created = client.post(
        "/api/v1/requests",
        json={"type": "access", "subject_id": customer},
        headers=warung.headers,
    ).json()
    response = client.post(
        f"/api/v1/requests/{created['id']}/verification/token",
        json={"token": token()},
        headers=warung.headers,
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("rights-token-invalid")
    assert why in response.json()["detail"]
    assert EMAIL not in response.text
    still = client.get(f"/api/v1/requests/{created['id']}", headers=warung.headers).json()
    assert still["verified_at"] is None


def test_a_token_for_someone_else_is_refused(
    client: Any, db: Any, warung: Any, customer: str, signing: str
) -> None:
    with db.session(warung.id) as s:
        rights.subjects.find_or_create(
            s, orgs.system_principal(warung.id), {"email": "budi@contoh.example"}
        )
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=warung.headers
    ).json()
    response = client.post(
        f"/api/v1/requests/{created['id']}/verification/token",
        json={"token": _token(value="budi@contoh.example")},
        headers=warung.headers,
    )
    assert response.status_code == 422
    assert "someone other" in response.json()["detail"]


def test_without_the_secret_tokens_are_not_accepted(
    client: Any, warung: Any, customer: str
) -> None:
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=warung.headers
    ).json()
    response = client.post(
        f"/api/v1/requests/{created['id']}/verification/token",
        json={"token": _token()},
        headers=warung.headers,
    )
    assert response.status_code == 409
    assert identity.SESSION_SECRET in response.json()["detail"]


def test_five_wrong_codes_lock_the_challenge_and_each_attempt_counts(
    client: Any, warung: Any, customer: str
) -> None:
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=warung.headers
    ).json()
    sent = client.post(
        f"/api/v1/requests/{created['id']}/verification/code", json={}, headers=warung.headers
    )
    assert sent.status_code == 200
    assert "code" not in sent.json()  # the code only travels through the outbox
    waiting = client.get(f"/api/v1/requests/{created['id']}", headers=warung.headers).json()
    assert waiting["status"] == "verifying"
    answers = []
    for _ in range(5):
        r = client.post(
            f"/api/v1/requests/{created['id']}/verification/code/check",
            json={"code": "abcdef"},
            headers=warung.headers,
        )
        answers.append(r.status_code)
    assert answers == [422, 422, 422, 422, 423]
    locked = client.post(
        f"/api/v1/requests/{created['id']}/verification/code/check",
        json={"code": "abcdef"},
        headers=warung.headers,
    )
    assert locked.status_code == 423


def test_staff_verification_needs_a_note(client: Any, db: Any, warung: Any, customer: str) -> None:
    created = client.post(
        "/api/v1/requests",
        json={"type": "restriction", "subject_id": customer},
        headers=warung.headers,
    ).json()
    empty = client.post(
        f"/api/v1/requests/{created['id']}/verification/staff",
        json={"note": "   "},
        headers=warung.headers,
    )
    assert empty.status_code == 422
    ok = client.post(
        f"/api/v1/requests/{created['id']}/verification/staff",
        json={"note": "KTP dicocokkan lewat panggilan video"},
        headers=warung.headers,
    )
    assert ok.status_code == 200
    assert ok.json()["verification_method"] == "staff_review"
    assert ok.json()["verification_note"] == "KTP dicocokkan lewat panggilan video"
    with db.session(warung.id) as s:
        stored = rights.get_request(s, created["id"])
        assert stored.verification_note and "KTP" not in stored.verification_note
        evidence = rights.evidence(s, stored)
        assert evidence["request"]["verification_note"] == "KTP dicocokkan lewat panggilan video"


def test_status_page_data_holds_no_personal_data(db: Any, warung: Any, customer: str) -> None:
    with db.session(warung.id) as s:
        request = rights.submit(
            s,
            orgs.system_principal(warung.id),
            type="rectification",
            channel="privacy_center",
            identifiers={"email": EMAIL},
            details={"changes": {"email": "baru@contoh.example"}},
            lang="en",
        )
        token = rights.status_token(s, request)
    shown = rights.request_status_public(db, "warung-contoh", token)
    assert shown["number"] == "REQ-000001" and shown["status"] == "received"
    assert shown["lang"] == "en" and shown["due_at"].endswith("+07:00")
    assert EMAIL not in str(shown) and "baru@" not in str(shown) and customer not in str(shown)
    with pytest.raises(rights.NotFound):
        rights.request_status_public(db, "warung-contoh", token + "x")
    with pytest.raises(rights.NotFound):
        rights.request_status_public(db, "warung-lain", token)


def test_a_guardian_on_record_proves_who_they_are_with_their_own_address(
    client: Any, db: Any, settings: Any, warung: Any
) -> None:
    import mailbox
    from datetime import date

    from privasi import worker
    from privasi.subjects import service as subjects

    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "test")
        child = subjects.find_or_create(
            s, principal, {"email": "dimas.kecil@contoh.example"}, birth_date=date(2015, 4, 2)
        )
        mother = subjects.find_or_create(s, principal, {"email": "ibu.rina@contoh.example"})
        stranger = subjects.find_or_create(s, principal, {"email": "orang.asing@contoh.example"})
        subjects.link_guardian(s, principal, child, mother, "parent")
    refused = client.post(
        "/api/v1/requests",
        json={
            "type": "erasure",
            "subject_id": child.id,
            "requester_kind": "guardian",
            "requester_subject_id": stranger.id,
        },
        headers=warung.headers,
    )
    assert refused.status_code == 422
    created = client.post(
        "/api/v1/requests",
        json={
            "type": "access",
            "subject_id": child.id,
            "requester_kind": "guardian",
            "requester_subject_id": mother.id,
        },
        headers=warung.headers,
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    client.post(f"/api/v1/requests/{request_id}/verification/code", json={}, headers=warung.headers)
    worker.tick(db)
    mails = list(mailbox.Maildir(settings.data_dir / "mail"))
    assert {m["To"] for m in mails} == {"ibu.rina@contoh.example"}
    code_mail = next(m for m in mails if "verifikasi" in m["Subject"].lower())
    text = code_mail.get_payload()[0].get_payload(decode=True).decode()
    import re

    code = re.search(r"\b(\d{6})\b", text)
    assert code is not None
    checked = client.post(
        f"/api/v1/requests/{request_id}/verification/code/check",
        json={"code": code.group(1)},
        headers=warung.headers,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["verification_method"] == "email_code"


def test_asking_the_requester_sends_them_the_question(
    client: Any, warung: Any, customer: str, outbox: Any
) -> None:
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=warung.headers
    ).json()
    for note in ("Mohon kirim nomor pesanan", "Mohon kirim juga tanggal pesanan"):
        client.post(
            f"/api/v1/requests/{created['id']}/await-requester",
            json={"note": note},
            headers=warung.headers,
        )
        client.post(f"/api/v1/requests/{created['id']}/resume", headers=warung.headers)
    asked = [m for m in outbox(warung.id) if m.template == "rights_awaiting_requester"]
    assert len(asked) == 2


def test_codes_for_many_customers_from_one_business_server_are_not_throttled(
    client: Any, db: Any, warung: Any
) -> None:
    from privasi.subjects import service as subjects

    ids = []
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "test")
        for n in range(25):
            person = subjects.find_or_create(
                s, principal, {"email": f"pelanggan{n}@contoh.example"}
            )
            ids.append(person.id)
    answers = set()
    for subject_id in ids:
        created = client.post(
            "/api/v1/requests",
            json={"type": "access", "subject_id": subject_id},
            headers=warung.headers,
        ).json()
        answers.add(
            client.post(
                f"/api/v1/requests/{created['id']}/verification/code",
                json={},
                headers=warung.headers,
            ).status_code
        )
    assert answers == {200}


def test_one_person_gets_at_most_five_codes_an_hour(
    client: Any, warung: Any, customer: str
) -> None:
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=warung.headers
    ).json()
    answers = [
        client.post(
            f"/api/v1/requests/{created['id']}/verification/code", json={}, headers=warung.headers
        ).status_code
        for _ in range(6)
    ]
    assert answers == [200] * 5 + [429]
