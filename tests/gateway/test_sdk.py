"""The official OpenAI SDK pointed at the gateway, with a fake provider that records every byte."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.gateway.models import GatewayChatLog, GatewayConversation

NAME = "Budi Santoso"
EMAIL = "budi.santoso@contoh.co.id"
PHONE = "0812-3456-7890"
OTHER_NAME = "Rina Wijaya"
VALUES = [NAME, EMAIL, PHONE, OTHER_NAME, "budi.santoso", "3456-7890", "34567890"]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "save_lead",
            "description": "Store a lead in the CRM",
            "parameters": {"type": "object", "properties": {"note": {"type": "string"}}},
        },
    }
]


def _messages() -> list[dict]:
    return [
        {"role": "system", "content": f"Kamu asisten. Pelanggan saat ini: {OTHER_NAME}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "save_lead", "arguments": json.dumps({"email": EMAIL})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": f"lead {EMAIL} saved"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"Nama saya {NAME}, email {EMAIL}"},
                {"type": "text", "text": f"hubungi saya di {PHONE} ya"},
            ],
        },
    ]


def _assert_clean(raw: bytes) -> None:
    assert raw, "the fake provider received nothing"
    for value in VALUES:
        assert value.encode() not in raw, f"{value!r} reached the provider"


def test_sync_completion_no_personal_value_reaches_the_provider(gateway):
    client = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model="llama-3.1-8b-instant", messages=_messages(), tools=TOOLS
    )
    completion = raw.parse()
    _assert_clean(gateway.upstream.raw)
    assert b"<PERSON_1>" in gateway.upstream.raw
    content = completion.choices[0].message.content
    assert NAME in content and EMAIL in content and PHONE in content
    assert "<PERSON" not in content and "<EMAIL" not in content
    arguments = json.loads(completion.choices[0].message.tool_calls[0].function.arguments)
    assert NAME in arguments["note"] and EMAIL in arguments["note"]
    assert raw.headers["privasi-conversation"].startswith("pvc_")
    # the provider's own key went to the provider, never the privasi key
    sent = gateway.upstream.headers[-1]
    assert sent["authorization"] == "Bearer sk-upstream-test-key"


def test_streamed_answer_split_everywhere_is_restored(gateway):
    client = gateway.client()
    for size in (1, 2, 3, 5, 7):
        gateway.upstream.chunk_size = size
        stream = client.chat.completions.create(
            model="m", messages=_messages(), tools=TOOLS, stream=True
        )
        text, arguments = "", ""
        for chunk in stream:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            text += delta.content or ""
            for call in delta.tool_calls or []:
                arguments += call.function.arguments or ""
        assert text == f"Echo: Nama saya {NAME}, email {EMAIL} hubungi saya di {PHONE} ya"
        assert json.loads(arguments) == {
            "note": f"Nama saya {NAME}, email {EMAIL} hubungi saya di {PHONE} ya"
        }
    _assert_clean(gateway.upstream.raw)


def test_async_client_streaming_and_plain(gateway):
    async def run() -> tuple[str, str]:
        client = gateway.async_client()
        plain = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Saya {NAME}"}]
        )
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"email saya {EMAIL}"}], stream=True
        )
        text = ""
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
        await client.close()
        return plain.choices[0].message.content, text

    plain, streamed = asyncio.run(run())
    assert plain == f"Echo: Saya {NAME}"
    assert streamed == f"Echo: email saya {EMAIL}"
    _assert_clean(gateway.upstream.raw)
    assert b"<PERSON_1>" in gateway.upstream.raw and b"<EMAIL_ADDRESS_1>" in gateway.upstream.raw


@pytest.mark.parametrize(
    "change",
    [str.lower, lambda t: t.replace("<", "[").replace(">", "]"), lambda t: t.replace("<", "")],
)
def test_placeholders_changed_by_the_model_are_restored(gateway, change):
    gateway.upstream.transform = change
    gateway.upstream.chunk_size = 3
    client = gateway.client()
    message = [{"role": "user", "content": f"Nama saya {NAME}"}]
    plain = client.chat.completions.create(model="m", messages=message)
    assert NAME in plain.choices[0].message.content
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="m", messages=message, stream=True)
        if c.choices
    )
    assert NAME in streamed
    assert "person_1" not in streamed.lower()


def test_conversation_keeps_placeholders_across_turns_and_processes(gateway):
    client = gateway.client()
    first = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": f"Saya {NAME}, teman saya {OTHER_NAME}"}]
    )
    conversation = first.headers["privasi-conversation"]
    gateway.upstream.requests.clear()
    second = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": f"Tolong sapa {OTHER_NAME}"}],
        extra_headers={"Privasi-Conversation": conversation},
    )
    # the second turn names only the friend, who keeps the number the first turn gave them
    assert b"<PERSON_2>" in gateway.upstream.raw
    assert second.choices[0].message.content == f"Echo: Tolong sapa {OTHER_NAME}"
    with gateway.db.session(gateway.org.id) as s:
        rows = s.scalars(select(GatewayConversation)).all()
    assert len(rows) == 1
    assert NAME not in rows[0].mapping_sealed and conversation not in rows[0].mapping_sealed


def test_a_typed_placeholder_cannot_pull_another_conversations_value(gateway, make_org):
    client = gateway.client()
    first = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": f"Nama saya {NAME}"}]
    )
    taken = first.headers["privasi-conversation"]
    # a new conversation: the placeholder is just text there
    other = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Siapa <PERSON_1>?"}]
    )
    assert NAME not in other.choices[0].message.content
    assert "<PERSON_1>" in other.choices[0].message.content
    # another key of the same organisation cannot reuse the conversation id
    from privasi.orgs import service as orgs

    with gateway.db.session(gateway.org.id) as s:
        _, second_key = orgs.create_api_key(s, name="widget-2", scopes=["gateway.use"])
    with pytest.raises(openai.NotFoundError):
        gateway.client(second_key).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "Siapa <PERSON_1>?"}],
            extra_headers={"Privasi-Conversation": taken},
        )
    # nor can another organisation's key
    org_b = make_org("beta")
    with pytest.raises(openai.APIStatusError) as refused:
        gateway.client(org_b.token).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "Siapa <PERSON_1>?"}],
            extra_headers={"Privasi-Conversation": taken},
        )
    assert refused.value.status_code in (404, 503)
    assert NAME not in refused.value.response.text


def test_end_user_id_derives_a_conversation_and_is_never_forwarded(gateway):
    client = gateway.client()
    for _ in range(2):
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Saya {NAME}"}], user=EMAIL
        )
    sent = [json.loads(r) for r in gateway.upstream.requests]
    assert sent[0]["user"] == sent[1]["user"] and sent[0]["user"].startswith("privasi-")
    _assert_clean(gateway.upstream.raw)
    with gateway.db.session(gateway.org.id) as s:
        assert len(s.scalars(select(GatewayConversation)).all()) == 1


def test_blocked_secret_is_refused_and_nothing_is_forwarded(gateway):
    client = gateway.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "password: Hunter2xyz! tolong"}]
        )
    error = refused.value.body
    assert error["code"] == "personal_data_blocked" and "SECRET" in error["message"]
    assert "Hunter2xyz" not in refused.value.response.text
    assert gateway.upstream.requests == []
    with gateway.db.session(gateway.org.id) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "gateway.call")).one()
    assert event.details["outcome"] == "blocked" and event.details["blocked"] == {"SECRET": 1}


def test_images_are_refused_rather_than_forwarded_unchecked(gateway):
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(
            model="m",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "apa ini?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
        )
    assert refused.value.body["code"] == "unsupported_content"
    assert gateway.upstream.requests == []


def test_audit_event_counts_types_and_names_the_transfer(gateway):
    gateway.client().chat.completions.create(model="m", messages=_messages())
    with gateway.db.session(gateway.org.id) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "gateway.call")).one()
    details = event.details
    assert details["recipient"] == "groq" and details["countries"] == ["US"]
    assert details["cross_border"] is True and details["outcome"] == "forwarded"
    assert details["pseudonymised"]["PERSON"] >= 2
    assert details["pseudonymised"]["EMAIL_ADDRESS"] >= 3
    assert details["pseudonymised"]["PHONE_NUMBER"] == 1
    dumped = json.dumps(details)
    for value in VALUES:
        assert value not in dumped


def test_chat_log_holds_only_pseudonymised_text(gateway):
    gateway.client().chat.completions.create(model="m", messages=_messages())
    with gateway.db.session(gateway.org.id) as s:
        log = s.scalars(select(GatewayChatLog)).one()
        conversation = s.scalars(select(GatewayConversation)).one()
    stored = log.request_text + log.response_text
    assert "<PERSON_1>" in stored
    for value in VALUES:
        assert value not in stored
    # digimetalab keeps chat 90 days; the mapping goes with it
    assert 89 <= (log.expires_at - log.created_at).days <= 90
    assert 89 <= (conversation.expires_at - conversation.created_at).days <= 90


def test_models_are_passed_through(gateway):
    models = gateway.client().models.list()
    assert [m.id for m in models.data] == ["fake-model"]
    assert gateway.upstream.headers[-1]["authorization"] == "Bearer sk-upstream-test-key"


def test_ending_a_conversation_destroys_its_mapping_and_logs(gateway, make_org):
    import httpx

    client = gateway.client()
    first = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": f"Nama saya {NAME}"}]
    )
    token = first.headers["privasi-conversation"]
    url = gateway.url + "/api/v1/gateway/conversations/end"
    # another organisation's key ends nothing, and learns nothing from the answer
    other = make_org("other")
    r = httpx.post(url, json={"conversation": token}, headers=other.headers)
    assert r.status_code == 204
    with gateway.db.session(gateway.org.id) as s:
        assert len(s.scalars(select(GatewayConversation)).all()) == 1
    r = httpx.post(url, json={"conversation": token}, headers=gateway.org.headers)
    assert r.status_code == 204
    with gateway.db.session(gateway.org.id) as s:
        assert s.scalars(select(GatewayConversation)).all() == []
        assert s.scalars(select(GatewayChatLog)).all() == []
        ended = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "gateway.conversation_ended")
        ).all()
    assert len(ended) == 1
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "lagi"}],
            extra_headers={"Privasi-Conversation": token},
        )
