"""WhatsApp Cloud API and signed webhooks, each against a local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from privasi.notify import delivery, signing
from privasi.orgs import service as orgs
from privasi.vault import service as secrets

from .conftest import status_of

WEBHOOK_SECRET = "whsec-kopi-contoh-test-0001"


def _secret(db, org_id: str, name: str, value: str) -> None:
    with db.session(org_id) as s:
        secrets.set_secret(s, orgs.system_principal(org_id), name, value)


def _whatsapp_ready(db, org, http_server, use_settings) -> None:
    use_settings(whatsapp_api_base=http_server.url + "/v21.0")
    _secret(db, org.id, "whatsapp_access_token", "EAAG-test-token")
    _secret(db, org.id, "whatsapp_phone_number_id", "1098765432")


def test_whatsapp_reply_goes_out_as_a_text_message(db, org, queue, http_server, use_settings):
    _whatsapp_ready(db, org, http_server, use_settings)
    http_server.answers = [(200, {"messages": [{"id": "wamid.HBgM-test"}]})]
    message_id = queue(
        channel="whatsapp",
        to="+62 812-3456-7890".replace(" ", "").replace("-", ""),
        template="unsubscribed",
        params={"purpose_name": "Promo WhatsApp", "resume_keyword": "MULAI"},
    )

    assert delivery.deliver(db, message_id) == "sent"

    [request] = http_server.requests
    assert request.path == "/v21.0/1098765432/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-test-token"
    body = request.json()
    assert body["to"] == "6281234567890" and body["type"] == "text"
    assert body["text"]["body"].startswith("Anda tidak akan menerima Promo WhatsApp lagi")
    assert "Balas MULAI" in body["text"]["body"]
    assert status_of(db, org.id, message_id).provider_message_id == "wamid.HBgM-test"


def test_whatsapp_code_uses_the_registered_template(db, org, queue, http_server, use_settings):
    _whatsapp_ready(db, org, http_server, use_settings)
    http_server.answers = [(200, {"messages": [{"id": "wamid.code"}]})]
    message_id = queue(channel="whatsapp", to="6281234567890", lang="en")

    assert delivery.deliver(db, message_id) == "sent"

    body = http_server.requests[0].json()
    assert body["type"] == "template"
    assert body["template"]["name"] == "privasi_verification_code"
    assert body["template"]["language"] == {"code": "en"}
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "482913"}]


def test_whatsapp_server_error_is_retried_and_a_bad_request_fails(
    db, org, queue, http_server, use_settings
):
    _whatsapp_ready(db, org, http_server, use_settings)
    http_server.answers = [
        (503, {"error": {"message": "busy", "code": 2}}),
        (400, {"error": {"message": "(#131026) 6281234567890 is not on WhatsApp", "code": 131026}}),
    ]
    message_id = queue(channel="whatsapp", to="6281234567890")

    assert delivery.deliver(db, message_id) == "retry"
    message = status_of(db, org.id, message_id)
    assert message.last_error == "whatsapp http 503 code 2"
    assert delivery.deliver(db, message_id, now=message.next_attempt_at) == "failed"
    message = status_of(db, org.id, message_id)
    # The provider's message quoted the number: only the numeric code is kept.
    assert message.status == "failed" and message.last_error == "whatsapp http 400 code 131026"


def test_whatsapp_without_credentials_fails_saying_which_secret(db, org, queue):
    message_id = queue(channel="whatsapp", to="6281234567890")
    assert delivery.deliver(db, message_id) == "failed"
    assert "whatsapp_access_token" in status_of(db, org.id, message_id).last_error


def _verifying_receiver(secret: str):
    """A receiver that checks the signature the way the documentation tells businesses to."""

    def answer(request):
        timestamp = request.headers.get("Privasi-Timestamp", "")
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        if fresh and hmac.compare_digest(
            request.headers.get("Privasi-Signature", ""), f"v1={expected}"
        ):
            return 204, {}
        return 401, {"error": "bad signature"}

    return answer


def test_signed_webhook_is_accepted_by_a_verifying_receiver(db, org, queue, http_server):
    _secret(db, org.id, "webhook_signing_secret", WEBHOOK_SECRET)
    http_server.answers = [_verifying_receiver(WEBHOOK_SECRET)]
    message_id = queue(
        channel="webhook",
        to=http_server.url + "/hooks/privasi",
        template="consent_withdrawn",
        lang="en",
        params={"purpose_name": "Newsletter"},
    )

    assert delivery.deliver(db, message_id) == "sent"

    [request] = http_server.requests
    assert request.path == "/hooks/privasi"
    assert request.headers["Privasi-Message-Id"] == message_id
    event = json.loads(request.body)
    assert event["id"] == message_id and event["type"] == "consent_withdrawn"
    assert event["data"]["purpose_name"] == "Newsletter"
    assert event["message"]["subject"] == "Your consent for Newsletter has been withdrawn"
    # The helper shipped for receivers written in Python agrees.
    assert signing.verify(
        WEBHOOK_SECRET,
        request.body,
        request.headers["Privasi-Timestamp"],
        request.headers["Privasi-Signature"],
    )
    assert not signing.verify(
        WEBHOOK_SECRET,
        request.body + b" ",
        request.headers["Privasi-Timestamp"],
        request.headers["Privasi-Signature"],
    )


def test_webhook_signed_with_another_secret_is_refused_and_not_retried(db, org, queue, http_server):
    _secret(db, org.id, "webhook_signing_secret", "a-different-secret")
    http_server.answers = [_verifying_receiver(WEBHOOK_SECRET)]
    message_id = queue(channel="webhook", to=http_server.url + "/hooks/privasi")
    assert delivery.deliver(db, message_id) == "failed"
    assert status_of(db, org.id, message_id).last_error == "webhook http 401"


def test_webhook_receiver_down_is_retried(db, org, queue, http_server):
    _secret(db, org.id, "webhook_signing_secret", WEBHOOK_SECRET)
    http_server.answers = [(502, {}), _verifying_receiver(WEBHOOK_SECRET)]
    message_id = queue(channel="webhook", to=http_server.url + "/hooks/privasi")
    assert delivery.deliver(db, message_id) == "retry"
    message = status_of(db, org.id, message_id)
    assert delivery.deliver(db, message_id, now=message.next_attempt_at) == "sent"
    assert len(http_server.requests) == 2


def test_old_signatures_are_refused_by_the_helper():
    body = b'{"id":"x"}'
    old = int(time.time()) - 3600
    assert not signing.verify(
        WEBHOOK_SECRET, body, str(old), signing.sign(WEBHOOK_SECRET, old, body)
    )
    now = int(time.time())
    rotated = "v1=deadbeef, " + signing.sign(WEBHOOK_SECRET, now, body)
    assert signing.verify(WEBHOOK_SECRET, body, str(now), rotated)


def test_policy_update_uses_its_template_with_the_date_written_out(
    db, org, queue, http_server, use_settings
):
    _whatsapp_ready(db, org, http_server, use_settings)
    http_server.answers = [(200, {"messages": [{"id": "wamid.update"}]})]
    message_id = queue(
        channel="whatsapp",
        to="6281234567890",
        template="reconsent",
        params={"effective_date": "2026-08-17", "purposes": [{"name": "Buletin", "changes": []}]},
    )
    assert delivery.deliver(db, message_id) == "sent"
    template = http_server.requests[0].json()["template"]
    assert template["name"] == "privasi_policy_update" and template["language"] == {"code": "id"}
    assert template["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Kopi-Contoh"},
                {"type": "text", "text": "17 Agustus 2026"},
            ],
        }
    ]
