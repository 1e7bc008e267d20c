"""Configuring the upstream (API and CLI), the policy's terms, retention, and isolation between orgs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from privasi.db import utcnow
from privasi.gateway import conversations, service
from privasi.gateway.cli import app as gateway_app
from privasi.gateway.models import GatewayChatLog, GatewayConversation, GatewayUpstream
from privasi.orgs.service import system_principal
from privasi.policy.loader import policy_from_dict
from privasi.policy.vocab import EntityAction
from privasi.vault import service as vault_service
from privasi.worker import tick

UPSTREAM_KEY = "sk-upstream-Rahasia-2026"


@pytest.fixture
def org(make_org, publish_example):
    org = make_org("acme")
    publish_example(org)
    return org


def test_configure_through_the_api_never_shows_the_key(client, org, db):
    url = "/api/v1/gateway/upstream"
    assert client.get(url, headers=org.headers).json() == {
        "configured": False,
        "base_url": None,
        "recipient": None,
        "key_stored": False,
        "rate_limit_per_minute": None,
        "updated_at": None,
    }
    body = {"base_url": "https://api.groq.example/openai/v1/", "api_key": UPSTREAM_KEY}
    r = client.put(url, json={**body, "recipient": "openai"}, headers=org.headers)
    assert r.status_code == 200, r.text
    assert r.json()["base_url"] == "https://api.groq.example/openai/v1"
    assert r.json()["recipient"] == "openai" and r.json()["key_stored"] is True
    assert (
        UPSTREAM_KEY not in r.text and UPSTREAM_KEY not in client.get(url, headers=org.headers).text
    )
    with db.session(org.id) as s:
        assert vault_service.get_secret(s, service.UPSTREAM_KEY_SECRET) == UPSTREAM_KEY
    # digimetalab declares two AI providers: which one this upstream is must be said
    r = client.put(url, json=body, headers=org.headers)
    assert r.status_code == 200
    with db.session(org.id) as s, pytest.raises(Exception, match="2 AI providers"):
        service.current_terms(s, None)
    bad = client.put(url, json={**body, "recipient": "google_cloud"}, headers=org.headers)
    assert bad.status_code == 422 and "not declared as an AI provider" in bad.text
    creds = client.put(url, json={"base_url": "https://u:p@x.example/v1"}, headers=org.headers)
    assert creds.status_code == 422
    assert client.delete(url, headers=org.headers).status_code == 204
    assert client.get(url, headers=org.headers).json()["configured"] is False
    with db.session(org.id) as s:
        assert not vault_service.has_secret(s, service.UPSTREAM_KEY_SECRET)


def test_org_b_sees_nothing_of_a(client, org, make_org, db):
    client.put(
        "/api/v1/gateway/upstream",
        json={
            "base_url": "https://a-only.example/v1",
            "api_key": UPSTREAM_KEY,
            "recipient": "groq",
        },
        headers=org.headers,
    )
    with db.session(org.id) as s:
        s.add(
            GatewayChatLog(
                conversation_id="a-conversation",
                recipient_id="groq",
                model="m",
                request_text="A's pseudonymised request <PERSON_1>",
                response_text="A's answer",
                outcome="ok",
                expires_at=utcnow() + timedelta(days=1),
            )
        )
    b = make_org("beta")
    r = client.get("/api/v1/gateway/upstream", headers=b.headers)
    assert r.status_code == 200 and r.json()["configured"] is False
    assert "a-only" not in r.text
    logs = client.get("/api/v1/gateway/logs", headers=b.headers)
    assert logs.status_code == 200 and logs.json()["items"] == []
    own = client.get("/api/v1/gateway/logs", headers=org.headers).json()["items"]
    assert [i["conversation_id"] for i in own] == ["a-conversation"]
    # deleting is idempotent: B removes nothing of A's
    assert client.delete("/api/v1/gateway/upstream", headers=b.headers).status_code == 204
    assert client.get("/api/v1/gateway/upstream", headers=org.headers).json()["configured"]


def test_terms_follow_the_policy(org, db):
    with db.session(org.id) as s:
        groq = service.current_terms(s, "groq")
    assert groq.keep_logs is True and groq.retention == timedelta(days=90)
    assert groq.from_last_use is False and groq.countries == ["US"]
    # the example's PASSWORD rule is the engine's SECRET
    assert groq.recipient.action_for("SECRET") is EntityAction.block
    assert groq.recipient.action_for("ID_NIK") is EntityAction.block
    assert groq.recipient.action_for("ADDRESS") is EntityAction.pseudonymize


def test_policy_refuses_entity_types_the_gateway_cannot_detect():
    from pathlib import Path

    import yaml

    examples = Path(__file__).resolve().parents[2] / "examples"
    doc = yaml.safe_load((examples / "digimetalab.yaml").read_text())
    doc["recipients"][0]["entity_rules"]["FAVOURITE_COLOUR"] = "block"
    with pytest.raises(Exception, match="FAVOURITE_COLOUR"):
        policy_from_dict(doc, "test")
    doc["recipients"][0]["entity_rules"].pop("FAVOURITE_COLOUR")
    doc["recipients"][0]["entity_rules"]["SECRET"] = "pass"
    with pytest.raises(Exception, match="same entity type"):
        policy_from_dict(doc, "test")


def test_worker_purges_expired_conversations_and_logs(org, db, settings):
    with db.session(org.id) as s:
        service.configure(
            s,
            system_principal(org.id),
            base_url="http://127.0.0.1:9/v1",
            recipient_id="groq",
        )
        terms = service.current_terms(s, "groq")
        conversation = conversations.open_conversation(s, "key1", token=None, derived=None)
        conversation.mapping.placeholder_for("", "PERSON", "Budi Santoso")
        conversations.save_mapping(s, conversation, api_key_id="key1", terms=terms)
        assert conversation.row is not None
        conversation_id = conversation.row.id
        s.add(
            GatewayChatLog(
                conversation_id=conversation_id,
                recipient_id="groq",
                model="m",
                request_text="<PERSON_1>",
                response_text="",
                outcome="ok",
                expires_at=utcnow() + terms.retention,
            )
        )
    tick(db)
    with db.session(org.id) as s:
        assert s.scalars(select(GatewayConversation)).all() != []
        s.execute(
            GatewayConversation.__table__.update().values(
                expires_at=utcnow() - timedelta(seconds=1)
            )
        )
        s.execute(
            GatewayChatLog.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
        )
    tick(db)
    with db.session(org.id) as s:
        assert s.scalars(select(GatewayConversation)).all() == []
        assert s.scalars(select(GatewayChatLog)).all() == []
        assert s.scalars(select(GatewayUpstream)).one().recipient_id == "groq"


def test_cli_configure_show_test(org, settings, db, upstream):
    env = {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }
    runner = CliRunner()
    done = runner.invoke(
        gateway_app,
        ["configure", "acme", "--base-url", upstream.url, "--recipient", "groq"],
        input=UPSTREAM_KEY + "\n",
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert "groq" in done.output and UPSTREAM_KEY not in done.output
    shown = runner.invoke(gateway_app, ["show", "acme"], env=env)
    assert shown.exit_code == 0, shown.output
    assert (
        "90 days" in shown.output and "SECRET" in shown.output and UPSTREAM_KEY not in shown.output
    )
    tested = runner.invoke(gateway_app, ["test", "acme"], env=env)
    assert tested.exit_code == 0, tested.output
    assert "1 model" in tested.output
    assert upstream.headers[-1]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert upstream.requests == []  # no chat was sent


def test_a_policy_without_a_chat_store_keeps_no_logs(make_org, publish_example, db):
    org = make_org("tekino-like")
    publish_example(org, "tekino")
    with db.session(org.id) as s:
        terms = service.current_terms(s, None)  # tekino declares one AI provider
    assert terms.recipient.id == "ai_providers" and terms.keep_logs is False
    # its messaging rule runs from the contract's end, which the gateway cannot see
    assert terms.retention == service.DEFAULT_CHAT_RETENTION


def test_concurrent_turns_of_one_conversation_do_not_lose_placeholders(org, db):
    with db.session(org.id) as s:
        terms = service.current_terms(s, "groq")
        first = conversations.open_conversation(s, "key1", token=None, derived=None)
        conversations.save_mapping(s, first, api_key_id="key1", terms=terms)
    token = first.token
    with db.session(org.id) as s:
        a = conversations.open_conversation(s, "key1", token=token, derived=None)
        b = conversations.open_conversation(s, "key1", token=token, derived=None)
    a.mapping.placeholder_for("", "PERSON", "Budi Santoso")
    b.mapping.placeholder_for("", "PERSON", "Rina Wijaya")
    with db.session(org.id) as s:
        assert conversations.save_mapping(s, a, api_key_id="key1", terms=terms) is True
    with db.session(org.id) as s:
        # b read the mapping before a saved: it must start again, not overwrite a's <PERSON_1>
        assert conversations.save_mapping(s, b, api_key_id="key1", terms=terms) is False
    with db.session(org.id) as s:
        again = conversations.open_conversation(s, "key1", token=token, derived=None)
    assert again.mapping.value_for("", "<PERSON_1>") == "Budi Santoso"
    with db.session(org.id) as s, pytest.raises(Exception, match="unknown or has expired"):
        conversations.open_conversation(s, "other-key", token=token, derived=None)


def test_two_first_calls_of_one_end_user_meet_in_one_conversation(org, db):
    with db.session(org.id) as s:
        terms = service.current_terms(s, "groq")
        a = conversations.open_conversation(s, "key1", token=None, derived="pvu_same")
    with db.session(org.id) as s:
        b = conversations.open_conversation(s, "key1", token=None, derived="pvu_same")
    a.mapping.placeholder_for("", "PERSON", "Budi Santoso")
    with db.session(org.id) as s:
        assert conversations.save_mapping(s, a, api_key_id="key1", terms=terms) is True
    with db.session(org.id) as s:
        assert conversations.save_mapping(s, b, api_key_id="key1", terms=terms) is False
    with db.session(org.id) as s:
        found = conversations.open_conversation(s, "key1", token=None, derived="pvu_same")
        assert found.mapping.value_for("", "<PERSON_1>") == "Budi Santoso"
        assert len(s.scalars(select(GatewayConversation)).all()) == 1


def test_moving_the_upstream_needs_the_right_to_manage_secrets(client, make_org, publish_example):
    """The stored provider key goes wherever base_url points: a key (or a processor through a
    hosting grant) that may change settings but not secrets cannot redirect it."""
    org = make_org("settings-only", scopes=["org.read", "org.manage"])
    publish_example(org)
    url = "/api/v1/gateway/upstream"
    r = client.put(url, json={"base_url": "https://collector.example/v1"}, headers=org.headers)
    assert r.status_code == 403 and "secrets.manage" in r.text
    assert client.delete(url, headers=org.headers).status_code == 403
    assert client.get(url, headers=org.headers).json()["configured"] is False
