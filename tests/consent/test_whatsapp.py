"""The WhatsApp webhook, driven the way Meta drives it: signed deliveries, retries, odd payloads.

Signatures are computed for real (HMAC-SHA256 over the exact bytes sent). The organisation runs the
cybernet example policy (marketing on WhatsApp with keyword opt-in) unless a test says otherwise.
Numbers are fictional.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from privasi.audit.models import AuditEvent
from privasi.consent import service as consent
from privasi.consent.channels.models import WhatsAppDelivery
from privasi.notify.models import OutboxMessage
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.subjects import service as subjects
from privasi.vault import service as vault

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APP_SECRET = "fictional-app-secret-7f3a"
VERIFY = "kopi-tubruk-verify-token"
NUMBER = "6281298765432"
NEW_NUMBER = "6281355500011"


def publish(db: Any, org: Any, example: str, edit: Callable[[dict], None] | None = None) -> None:
    doc = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = "2026-01-01"
    if edit is not None:
        edit(doc)
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")


@pytest.fixture
def shop(db: Any, make_org: Any) -> Any:
    org = make_org("warung-net")
    publish(db, org, "cybernet")
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        vault.set_secret(s, principal, "whatsapp_app_secret", APP_SECRET)
        vault.set_secret(s, principal, "whatsapp_verify_token", VERIFY)
    return org


def subscriber(db: Any, org: Any, number: str = NUMBER, purpose: str = "marketing") -> str:
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        subject = subjects.find_or_create(s, principal, {"whatsapp": number})
        proof = consent.Proof(
            policy_version=None,
            text="Ya, kirimi saya promo lewat WhatsApp.",
            language="id",
            channel="web",
            method="checkbox",
            source="form:signup",
        )
        consent.grant(s, principal, subject, purpose, proof)
        return subject.id


def decision(db: Any, org: Any, subject_id: str, purpose: str = "marketing") -> str:
    with db.session(org.id) as s:
        return consent.check(s, [subject_id], purpose)[0].reason


def text_message(body: str, message_id: str = "wamid.HBgM001", sender: str = NUMBER) -> dict:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1763700000",
        "type": "text",
        "text": {"body": body},
    }


def delivery(field: str, value: dict) -> dict:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1098"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "4455", "changes": [{"field": field, "value": value}]}],
    }


def messages(*items: dict) -> dict:
    return delivery(
        "messages",
        {"contacts": [{"wa_id": NUMBER, "profile": {"name": "Rina"}}], "messages": list(items)},
    )


def post(client: Any, org: Any, payload: Any, secret: str = APP_SECRET, sign: bool = True) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if sign:
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return client.post(f"/integrations/whatsapp/{org.slug}", content=raw, headers=headers)


def outbox(db: Any, org: Any) -> list[OutboxMessage]:
    with db.session(org.id) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


def consent_events(db: Any, org: Any) -> list[Any]:
    with db.session(org.id) as s:
        return list(s.scalars(select(consent.ConsentEvent)))


# --- the handshake ----------------------------------------------------------------------------


def test_handshake_echoes_the_challenge_only_for_the_right_token(client: Any, shop: Any) -> None:
    url = f"/integrations/whatsapp/{shop.slug}"
    ok = client.get(
        url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ):
        refused = client.get(url, params=params)
        assert refused.status_code == 403
        assert "1" not in refused.text
    unknown_org = client.get(
        "/integrations/whatsapp/no-such-org",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "9"},
    )
    assert unknown_org.status_code == 403


# --- signatures ---------------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_refused_and_nothing_recorded(
    client: Any, db: Any, shop: Any
) -> None:
    subject_id = subscriber(db, shop)
    payload = messages(text_message("STOP"))
    assert post(client, shop, payload, sign=False).status_code == 401
    assert post(client, shop, payload, secret="another-app-secret").status_code == 401
    # A valid signature over other bytes (a body edited in transit) fails too.
    raw = json.dumps(payload).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    edited = client.post(
        f"/integrations/whatsapp/{shop.slug}",
        content=raw.replace(b"STOP", b"STOp"),
        headers={"X-Hub-Signature-256": f"sha256={digest}"},
    )
    assert edited.status_code == 401
    assert decision(db, shop, subject_id) == "consent"
    assert outbox(db, shop) == []
    with db.session(shop.id) as s:
        assert s.scalar(select(func.count()).select_from(WhatsAppDelivery)) == 0


def test_an_organisation_without_an_app_secret_accepts_nothing(
    client: Any, db: Any, make_org: Any
) -> None:
    org = make_org("tanpa-rahasia")
    publish(db, org, "cybernet")
    assert post(client, org, messages(text_message("STOP"))).status_code == 401


# --- keywords -----------------------------------------------------------------------------------


def test_stop_withdraws_marketing_and_queues_a_reply_once(client: Any, db: Any, shop: Any) -> None:
    subject_id = subscriber(db, shop)
    payload = messages(text_message("STOP"))
    first = post(client, shop, payload)
    assert first.status_code == 200
    assert first.json()["handled"] == {"opted_out": 1}
    assert decision(db, shop, subject_id) == "withdrawn"
    # Transactional messages still go out: the contract purpose is untouched.
    assert decision(db, shop, subject_id, "service_notifications") == "contract"

    [reply] = outbox(db, shop)
    assert (reply.channel, reply.template, reply.subject_id) == (
        "whatsapp",
        "unsubscribed",
        subject_id,
    )

    [event] = [e for e in consent_events(db, shop) if e.action == "withdrawn"]
    assert (event.channel, event.method) == ("whatsapp", "keyword")
    with db.session(shop.id) as s:
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == subject_id))
        )
    assert "consent.withdrawn" in actions

    # Meta retries the same delivery: nothing is recorded or sent a second time.
    again = post(client, shop, payload)
    assert again.status_code == 200
    assert len([e for e in consent_events(db, shop) if e.action == "withdrawn"]) == 1
    assert len(outbox(db, shop)) == 1


@pytest.mark.parametrize(
    ("body", "lang"),
    [("Berhenti.", "id"), ("stop promo", "id"), ("  UNSUBSCRIBE! ", "en"), ("Stop", "id")],
)
def test_every_opt_out_keyword_works_as_people_type_it(
    client: Any, db: Any, shop: Any, body: str, lang: str
) -> None:
    subject_id = subscriber(db, shop)
    assert post(client, shop, messages(text_message(body))).status_code == 200
    assert decision(db, shop, subject_id) == "withdrawn"
    [reply] = outbox(db, shop)
    assert reply.lang == lang


def test_a_sentence_containing_stop_is_not_an_opt_out(client: Any, db: Any, shop: Any) -> None:
    subject_id = subscriber(db, shop)
    response = post(client, shop, messages(text_message("jangan stop promonya ya, saya suka")))
    assert response.json()["handled"] == {"message_ignored": 1}
    assert decision(db, shop, subject_id) == "consent"
    assert outbox(db, shop) == []


def test_stop_from_an_unknown_number_is_answered_without_creating_anyone(
    client: Any, db: Any, shop: Any
) -> None:
    response = post(client, shop, messages(text_message("STOP", sender="6281377788899")))
    assert response.json()["handled"] == {"already_out": 1}
    [reply] = outbox(db, shop)
    assert reply.subject_id is None
    with db.session(shop.id) as s:
        assert subjects.find_by_identifier(s, "whatsapp", "6281377788899") is None


def test_start_grants_again_when_the_policy_allows_keyword_opt_in(
    client: Any, db: Any, shop: Any
) -> None:
    subject_id = subscriber(db, shop)
    post(client, shop, messages(text_message("STOP", "wamid.1")))
    assert decision(db, shop, subject_id) == "withdrawn"
    response = post(client, shop, messages(text_message("Mulai", "wamid.2")))
    assert response.json()["handled"] == {"opted_in": 1}
    assert decision(db, shop, subject_id) == "consent"
    granted = [e for e in consent_events(db, shop) if e.action == "granted"]
    assert (granted[-1].channel, granted[-1].method, granted[-1].language) == (
        "whatsapp",
        "keyword",
        "id",
    )


def test_start_grants_nothing_when_the_policy_asks_for_consent_another_way(
    client: Any, db: Any, make_org: Any
) -> None:
    org = make_org("digi-lab")
    publish(db, org, "digimetalab")  # marketing by consent, no keyword opt-in
    with db.session(org.id) as s:
        vault.set_secret(s, system_principal(org.id), "whatsapp_app_secret", APP_SECRET)
    subject_id = subscriber(db, org)
    post(client, org, messages(text_message("STOP", "wamid.a")))
    response = post(client, org, messages(text_message("START", "wamid.b")))
    assert response.json()["handled"] == {"opt_in_not_allowed": 1}
    assert decision(db, org, subject_id) == "withdrawn"


def test_a_purpose_declared_keyword_withdraws_that_purpose(
    client: Any, db: Any, make_org: Any
) -> None:
    def survey_keyword(doc: dict) -> None:
        for purpose in doc["purposes"]:
            if purpose["id"] == "surveys":
                purpose["opt_out_keywords"] = ["STOP SURVEI"]
                purpose["channels"] = ["email", "whatsapp"]

    org = make_org("net-survei")
    publish(db, org, "cybernet", survey_keyword)
    with db.session(org.id) as s:
        vault.set_secret(s, system_principal(org.id), "whatsapp_app_secret", APP_SECRET)
    marketing = subscriber(db, org)
    subscriber(db, org, purpose="surveys")
    post(client, org, messages(text_message("stop survei")))
    assert decision(db, org, marketing, "surveys") == "withdrawn"
    assert decision(db, org, marketing, "marketing") == "consent"


# --- preferences, number changes ----------------------------------------------------------------


def preference(value: str, timestamp: int = 1763700100) -> dict:
    return delivery(
        "user_preferences",
        {
            "contacts": [{"wa_id": NUMBER, "profile": {"name": "Rina"}}],
            "user_preferences": [
                {
                    "wa_id": NUMBER,
                    "detail": "User requested to stop marketing messages",
                    "category": "marketing_messages",
                    "value": value,
                    "timestamp": timestamp,
                }
            ],
        },
    )


def test_marketing_stop_and_resume_preferences(client: Any, db: Any, shop: Any) -> None:
    subject_id = subscriber(db, shop)
    assert post(client, shop, preference("stop")).json()["handled"] == {"opted_out": 1}
    assert decision(db, shop, subject_id) == "withdrawn"
    assert post(client, shop, preference("stop")).json()["handled"] == {"replayed": 1}
    assert post(client, shop, preference("resume", 1763700200)).json()["handled"] == {"opted_in": 1}
    assert decision(db, shop, subject_id) == "consent"
    methods = [e.method for e in consent_events(db, shop)]
    assert methods.count("button") == 2
    assert outbox(db, shop) == []  # WhatsApp itself confirmed the switch to the person


@pytest.mark.parametrize("new_key", ["wa_id", "new_wa_id"])  # current and older API versions
def test_a_changed_number_keeps_the_person_and_their_opt_out(
    client: Any, db: Any, shop: Any, new_key: str
) -> None:
    subject_id = subscriber(db, shop)
    post(client, shop, messages(text_message("STOP", "wamid.s1")))
    change = {
        "from": NUMBER,
        "id": "wamid.sys1",
        "timestamp": "1763700300",
        "type": "system",
        "system": {
            "body": "Rina changed from one number to another",
            new_key: NEW_NUMBER,
            "type": "user_changed_number",
        },
    }
    assert post(client, shop, messages(change)).json()["handled"] == {"number_changed": 1}
    with db.session(shop.id) as s:
        found = subjects.find_by_identifier(s, "whatsapp", NEW_NUMBER)
        assert found is not None and found.id == subject_id
    assert decision(db, shop, subject_id) == "withdrawn"


# --- anything else ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json",
        {"object": "page", "entry": "not a list"},
        {"entry": [{"changes": [{"field": "message_template_status_update", "value": {}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": ["odd", 7]}}]}]},
        messages({"from": NUMBER, "id": "wamid.img", "type": "image", "image": {"id": "77"}}),
        delivery("messages", {"statuses": [{"id": "wamid.x", "status": "read"}]}),
        [1, 2, 3],
    ],
)
def test_unknown_shapes_are_acknowledged_not_crashed_on(
    client: Any, db: Any, shop: Any, payload: Any
) -> None:
    subject_id = subscriber(db, shop)
    response = post(client, shop, payload)
    assert response.status_code == 200
    assert response.json()["received"] is True
    assert decision(db, shop, subject_id) == "consent"


def test_logs_never_carry_the_number_or_the_message(
    client: Any, db: Any, shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    subscriber(db, shop)
    with caplog.at_level("DEBUG"):
        post(client, shop, messages(text_message("STOP")))
        post(client, shop, messages(text_message("nomor saya 6281298765432")))
    for record in caplog.records:
        rendered = record.getMessage() + repr(record.__dict__)
        assert NUMBER not in rendered
        assert "nomor saya" not in rendered
