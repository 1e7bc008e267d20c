"""The privacy center's request form: a code to the address on record, the request recorded once
the code is right, the status page; the same answers whether or not an address is known.

The organisation runs the digimetalab example policy. People and addresses are fictional.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from privasi.consent import verification
from privasi.consent.channels.models import VerificationChallenge
from privasi.db import utcnow
from privasi.notify import service as notify
from privasi.notify.models import OutboxMessage
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.rights import service as rights
from privasi.rights.models import RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "putri.lestari@contoh.example"
UNKNOWN = "tidak.terdaftar@contoh.example"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN_RE = re.compile(r'name="(challenge|pending)" value="([^"]*)"')


@pytest.fixture
def shop(db: Any, make_org: Any) -> Any:
    org = make_org("toko-batik")
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = "2026-01-01"
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")
    with db.session(org.id) as s:
        org.subject_id = subjects.find_or_create(s, system_principal(org.id), {"email": EMAIL}).id
    return org


def base(org: Any) -> str:
    return f"/privacy/{org.slug}/request"


def csrf(page: Any) -> str:
    match = CSRF_RE.search(page.text)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def send_form(client: Any, org: Any, **fields: str) -> Any:
    start = client.get(base(org))
    assert start.status_code == 200
    data = {"type": "access", "address": EMAIL, "requester_kind": "subject", **fields}
    return client.post(base(org), data={**data, "csrf_token": csrf(start)})


def hidden(page: Any) -> dict[str, str]:
    return dict(HIDDEN_RE.findall(page.text))


def sent_codes(db: Any, org: Any) -> list[str]:
    with db.session(org.id) as s:
        messages = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "verification_code")
            .order_by(OutboxMessage.created_at)
        ).all()
        return [str(notify.open_payload(vault_for(s), m)["params"]["code"]) for m in messages]


def enter_code(client: Any, org: Any, page: Any, code: str) -> Any:
    return client.post(
        f"{base(org)}/verify",
        data={**hidden(page), "code": code, "csrf_token": csrf(page)},
        follow_redirects=False,
    )


def requests_of(db: Any, org: Any) -> list[RightsRequest]:
    with db.session(org.id) as s:
        return list(s.scalars(select(RightsRequest).order_by(RightsRequest.number)))


def test_the_form_is_bilingual(client: Any, shop: Any) -> None:
    page = client.get(base(shop))
    assert "Ajukan permintaan privasi" in page.text
    assert "Hapus data saya" in page.text
    english = client.get(f"{base(shop)}?lang=en")
    assert "Make a privacy request" in english.text
    assert "Erase my data" in english.text


def test_a_person_proves_the_address_and_the_request_is_recorded(
    client: Any, db: Any, shop: Any
) -> None:
    before = utcnow()
    page = send_form(client, shop, details="Akun toko online saya")
    assert page.status_code == 200
    assert "Masukkan kode Anda" in page.text
    assert EMAIL not in page.text
    assert requests_of(db, shop) == []  # nothing is recorded before the code
    [code] = sent_codes(db, shop)
    done = enter_code(client, shop, page, code)
    assert done.status_code == 303
    status_url = done.headers["location"]
    assert status_url.startswith(f"/privacy/{shop.slug}/request/")
    [request] = requests_of(db, shop)
    assert (request.type, request.channel, request.subject_id) == (
        "access",
        "privacy_center",
        shop.subject_id,
    )
    assert request.verification_method == "email_code"
    assert request.status == "in_progress"
    # The clock started when the form was sent, not when the code was typed.
    assert before <= request.received_at <= request.verified_at  # type: ignore[operator]
    assert request.due_at - request.received_at == timedelta(hours=72)
    with db.session(shop.id) as s:
        assert rights.details_of(s, request) == {"description": "Akun toko online saya"}
    status = client.get(status_url)
    assert status.status_code == 200
    assert "Permintaan REQ-000001" in status.text
    assert "Sedang diproses" in status.text
    assert "(UTC+08:00)" in status.text  # the organisation's time zone (Makassar)
    assert EMAIL not in status.text
    assert status.headers["referrer-policy"] == "no-referrer"
    # The code works once: a replay records nothing more.
    assert enter_code(client, shop, page, code).status_code == 400
    assert len(requests_of(db, shop)) == 1


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_recorded(
    client: Any, db: Any, shop: Any
) -> None:
    known = send_form(client, shop)
    unknown = send_form(client, shop, address=UNKNOWN)

    def shape(page: Any) -> str:
        text = CSRF_RE.sub("", page.text)
        return HIDDEN_RE.sub("", text)

    assert unknown.status_code == known.status_code == 200
    assert shape(unknown) == shape(known)
    assert len(sent_codes(db, shop)) == 1  # only the person on record got a code
    wrong = enter_code(client, shop, unknown, "123456")
    assert wrong.status_code == 422
    assert "4 kali" in wrong.text
    assert requests_of(db, shop) == []


def test_five_wrong_codes_lock_the_challenge(client: Any, db: Any, shop: Any) -> None:
    page = send_form(client, shop)
    [code] = sent_codes(db, shop)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        page = enter_code(client, shop, page, wrong)
        assert page.status_code == 422
    locked = enter_code(client, shop, page, wrong)
    assert locked.status_code == 400
    assert "Terlalu banyak kode yang salah" in locked.text
    assert enter_code(client, shop, page, code).status_code == 400
    assert requests_of(db, shop) == []


def test_a_rectification_needs_what_is_wrong_and_what_is_right(
    client: Any, db: Any, shop: Any
) -> None:
    refused = send_form(client, shop, type="rectification")
    assert refused.status_code == 422
    assert "sebutkan data yang salah" in refused.text
    page = send_form(client, shop, type="rectification", field="name", corrected="Putri L.")
    [code] = sent_codes(db, shop)
    assert enter_code(client, shop, page, code).status_code == 303
    [request] = requests_of(db, shop)
    with db.session(shop.id) as s:
        assert rights.details_of(s, request)["changes"] == {"name": "Putri L."}


def test_a_guardian_is_recorded_but_left_for_staff_to_verify(
    client: Any, db: Any, shop: Any
) -> None:
    refused = send_form(client, shop, requester_kind="guardian")
    assert refused.status_code == 422
    page = send_form(
        client, shop, requester_kind="guardian", requester_note="Ibu kandung, akta kelahiran"
    )
    [code] = sent_codes(db, shop)
    assert enter_code(client, shop, page, code).status_code == 303
    [request] = requests_of(db, shop)
    assert request.requester_kind == "guardian"
    assert request.verified_at is None and request.status == "received"


def test_sealed_form_cannot_be_moved_to_another_challenge(client: Any, db: Any, shop: Any) -> None:
    first = send_form(client, shop, type="erasure")
    second = send_form(client, shop, type="access")
    codes = sent_codes(db, shop)
    swapped = {"challenge": hidden(second)["challenge"], "pending": hidden(first)["pending"]}
    answer = client.post(
        f"{base(shop)}/verify",
        data={**swapped, "code": codes[1], "csrf_token": csrf(second)},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert requests_of(db, shop) == []


def test_forms_without_the_csrf_token_are_refused(client: Any, db: Any, shop: Any) -> None:
    client.get(base(shop))
    answer = client.post(base(shop), data={"type": "access", "address": EMAIL})
    assert answer.status_code == 403
    assert sent_codes(db, shop) == []
    with db.session(shop.id) as s:
        assert s.scalar(select(func.count()).select_from(VerificationChallenge)) == 0


def test_status_page_of_an_unknown_token_or_org(client: Any, shop: Any) -> None:
    assert client.get(f"{base(shop)}/no-such-token").status_code == 404
    assert client.get("/privacy/tidak-ada/request").status_code == 404


def test_the_per_person_code_limit_does_not_tell_who_is_on_record(
    client: Any, db: Any, shop: Any
) -> None:
    pages = [send_form(client, shop) for _ in range(verification.MAX_PER_SUBJECT + 1)]
    unknown = send_form(client, shop, address=UNKNOWN)

    def shape(page: Any) -> str:
        return HIDDEN_RE.sub("", CSRF_RE.sub("", page.text))

    # The sixth ask for the same person looks like any other; no sixth code goes out.
    assert {p.status_code for p in pages} == {200}
    assert shape(pages[-1]) == shape(unknown) == shape(pages[0])
    assert len(sent_codes(db, shop)) == verification.MAX_PER_SUBJECT
    assert enter_code(client, shop, pages[-1], sent_codes(db, shop)[-1]).status_code == 422


def test_every_label_exists_in_both_languages() -> None:
    from privasi.rights.center import FORM_TYPES, REQUESTER_KINDS, STATUSES, labels

    for lang in ("id", "en"):
        for group, ids in (
            ("types", FORM_TYPES),
            ("help", FORM_TYPES),
            ("requesters", REQUESTER_KINDS),
            ("statuses", STATUSES),
            ("explain", STATUSES),
        ):
            for key, text in labels(group, ids, lang).items():
                assert text and not text.startswith("rights_center."), (lang, group, key)
