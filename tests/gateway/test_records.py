"""What a forwarded call leaves behind: its transfer recorded while the provider works, how it
ended, and no answer without both committed."""

from __future__ import annotations

import httpx
import openai
import pytest
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.gateway import service
from privasi.gateway.models import GatewayChatLog, GatewayConversation, GatewayRateWindow
from privasi.orgs import service as orgs

MESSAGE = [{"role": "user", "content": "Nama saya Budi Santoso, tolong bantu"}]


def _audit(gateway, org_id: str | None = None) -> list[AuditEvent]:
    with gateway.db.session(org_id or gateway.org.id) as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith("gateway.call"))
                .order_by(AuditEvent.seq)
            )
        )


def test_an_answer_comes_with_one_transfer_event_and_its_chat_log(gateway):
    answer = gateway.client().chat.completions.with_raw_response.create(model="m", messages=MESSAGE)
    assert "Budi Santoso" in answer.parse().choices[0].message.content
    events = _audit(gateway)
    assert [e.action for e in events] == ["gateway.call"]
    event = events[0]
    assert event.details["outcome"] == "forwarded" and event.count == 1
    assert event.request_id == answer.headers["x-request-id"]
    with gateway.db.session(gateway.org.id) as s:
        conversation = s.scalars(select(GatewayConversation)).one()
        log = s.scalars(select(GatewayChatLog)).one()
    assert event.details["conversation"] == conversation.id == log.conversation_id
    assert log.outcome == "ok" and "<PERSON_1>" in log.response_text
    assert "Budi" not in log.request_text + log.response_text


def test_a_streamed_answer_is_recorded_the_same_way(gateway):
    stream = gateway.client().chat.completions.create(model="m", messages=MESSAGE, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "Budi Santoso" in text
    assert [e.details["outcome"] for e in _audit(gateway)] == ["forwarded"]
    with gateway.db.session(gateway.org.id) as s:
        log = s.scalars(select(GatewayChatLog)).one()
    assert log.outcome == "ok" and "<PERSON_1>" in log.response_text


def test_a_provider_error_adds_an_outcome_event_to_the_transfer(gateway):
    client = gateway.client()
    first = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGE)
    token = first.headers["privasi-conversation"]
    gateway.upstream.fail_status = 500
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="m", messages=MESSAGE, extra_headers={"Privasi-Conversation": token}
        )
    events = _audit(gateway)
    assert [e.action for e in events] == ["gateway.call", "gateway.call", "gateway.call_failed"]
    failed = events[-1]
    assert failed.details["outcome"] == "upstream_error"
    assert failed.details["upstream_status"] == 500
    assert failed.details["call_event"] == events[1].id
    assert failed.request_id == events[1].request_id != events[0].request_id
    # the conversation the client holds stays, with the failed call in its log
    with gateway.db.session(gateway.org.id) as s:
        assert len(s.scalars(select(GatewayConversation)).all()) == 1
        outcomes = sorted(log.outcome for log in s.scalars(select(GatewayChatLog)))
    assert outcomes == ["ok", "upstream_error"]


def test_an_answer_is_withheld_when_its_record_cannot_be_written(gateway, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full at budi.santoso@contoh.co.id")

    monkeypatch.setattr(service, "record_call", broken)
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGE},
        headers={"Authorization": f"Bearer {gateway.org.token}"},
    )
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "record_failed"
    assert "Budi" not in r.text and "budi" not in r.text and "Privasi-Conversation" not in r.headers
    with gateway.db.session(gateway.org.id) as s:
        assert s.scalars(select(GatewayConversation)).all() == []
        assert s.scalars(select(GatewayChatLog)).all() == []


def test_a_processor_key_calls_the_gateway_of_a_hosted_organisation(gateway, make_org, db):
    processor = make_org("hoster", role="processor")
    with db.session(system=True) as s:
        hosting = orgs.get_org_by_slug(s, "hoster")
    with db.session(gateway.org.id) as s:
        orgs.create_hosting_grant(
            s,
            processor=hosting,
            actions=["gateway.use"],
            instructions="Run the chat widget's AI calls for us.",
            approved_subprocessors=[{"name": "Groq"}],
        )
    client = openai.OpenAI(
        base_url=gateway.url + "/v1",
        api_key=processor.token,
        max_retries=0,
        default_headers={"Privasi-Organization": gateway.org.slug},
    )
    answer = client.chat.completions.create(model="m", messages=MESSAGE)
    assert "Budi Santoso" in answer.choices[0].message.content
    # the call counts and is recorded in the hosted organisation, never the processor's own
    [event] = _audit(gateway)
    assert event.actor.endswith(processor.token.split("_")[1])
    assert _audit(gateway, processor.id) == []
    with db.session(gateway.org.id) as s:
        assert s.scalars(select(GatewayRateWindow)).one().calls == 1
    with db.session(processor.id) as s:
        assert s.scalars(select(GatewayRateWindow)).all() == []
        key = orgs.list_api_keys(s)[0]
    assert key.last_used_at is not None
    # the processor's key is not its staff's way into another organisation's chats
    other = make_org("elsewhere")
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGE},
        headers={"Authorization": f"Bearer {processor.token}", "Privasi-Organization": "elsewhere"},
    )
    assert r.status_code == 404 and other.slug == "elsewhere"


def test_a_stream_ends_with_an_error_when_its_record_cannot_be_written(gateway, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(service, "record_outcome", broken)
    stream = gateway.client().chat.completions.create(model="m", messages=MESSAGE, stream=True)
    with pytest.raises(openai.APIError) as failed:
        for _ in stream:
            pass
    assert "could not be recorded" in str(failed.value)
