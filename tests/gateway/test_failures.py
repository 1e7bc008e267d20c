"""Failing closed, and every error under /v1/ in OpenAI's shape so the SDK understands it."""

from __future__ import annotations

import socket
import time

import httpx
import openai
import pytest
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.gateway import proxy
from privasi.gateway.models import GatewayConversation

MESSAGE = [{"role": "user", "content": "Nama saya Budi Santoso"}]


def _error_shape(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code"} <= set(body["error"])
    return body["error"]


def _events(gateway, action: str = "gateway.call") -> list[dict]:
    with gateway.db.session(gateway.org.id) as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).all()
    return [r.details for r in rows]


def test_missing_or_wrong_key_and_missing_scope(gateway, make_org):
    url = gateway.url + "/v1/chat/completions"
    r = httpx.post(url, json={"model": "m", "messages": MESSAGE})
    assert r.status_code == 401 and _error_shape(r)["type"] == "authentication_error"
    r = httpx.post(url, json={"model": "m", "messages": MESSAGE}, headers={"Authorization": "x"})
    assert r.status_code == 401
    narrow = make_org("narrow", scopes=["org.read"])
    with pytest.raises(openai.PermissionDeniedError):
        gateway.client(narrow.token).chat.completions.create(model="m", messages=MESSAGE)
    assert gateway.upstream.requests == []


def test_bad_bodies(gateway):
    url = gateway.url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {gateway.org.token}"}
    r = httpx.post(url, content=b"{not json", headers=headers)
    assert r.status_code == 400 and _error_shape(r)["code"] == "invalid_json"
    r = httpx.post(url, json={"model": "m", "messages": []}, headers=headers)
    assert r.status_code == 400 and _error_shape(r)["type"] == "invalid_request_error"
    big = "kata " * 60_000
    r = httpx.post(
        url, json={"model": "m", "messages": [{"role": "user", "content": big}]}, headers=headers
    )
    assert r.status_code == 413 and _error_shape(r)["code"] == "request_too_large"
    assert gateway.upstream.requests == []


def test_upstream_down_is_a_502_without_retry(gateway):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway.configure(base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.client().chat.completions.create(model="m", messages=MESSAGE)
    assert failed.value.status_code == 502
    assert failed.value.body["code"] == "upstream_unreachable"
    assert "not retried" in failed.value.body["message"]
    # the transfer was recorded as it left, then how it ended
    forwarded, failure = _events(gateway)[-1], _events(gateway, "gateway.call_failed")[-1]
    assert forwarded["outcome"] == "forwarded" and forwarded["pseudonymised"] == {"PERSON": 1}
    assert failure["outcome"] == "upstream_unreachable"
    # the new conversation's id never reached the client: its mapping is not kept
    assert "conversation" not in failure
    with gateway.db.session(gateway.org.id) as s:
        assert s.scalars(select(GatewayConversation)).all() == []


def test_upstream_timeout_is_a_504(gateway, settings):
    settings.gateway_upstream_timeout_seconds = 0.2
    gateway.upstream.delay = 0.6
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.client().chat.completions.create(model="m", messages=MESSAGE)
    assert failed.value.status_code == 504 and failed.value.body["code"] == "upstream_timeout"
    time.sleep(0.5)
    # sent exactly once: a completion is never repeated behind the client's back
    assert len(gateway.upstream.requests) == 1


def test_upstream_errors_are_passed_on(gateway):
    gateway.upstream.fail_status = 500
    with pytest.raises(openai.InternalServerError) as failed:
        gateway.client().chat.completions.create(model="m", messages=MESSAGE)
    assert failed.value.body["code"] == "boom"
    gateway.upstream.fail_status = 429
    with pytest.raises(openai.RateLimitError):
        gateway.client().chat.completions.create(model="m", messages=MESSAGE, stream=True)
    assert len(gateway.upstream.requests) == 2


def test_broken_stream_ends_with_an_error_event(gateway):
    gateway.upstream.break_stream = True
    gateway.upstream.chunk_size = 2
    stream = gateway.client().chat.completions.create(model="m", messages=MESSAGE, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    assert "Budi Santoso" not in gateway.upstream.raw.decode()


class _Slow:
    def scoped(self, scope):
        return self

    def detect(self, text, language=None):
        time.sleep(0.6)
        return []


class _Broken(_Slow):
    def detect(self, text, language=None):
        raise RuntimeError("recognizer file is corrupt")


def test_detection_timeout_fails_closed(gateway, settings, monkeypatch):
    settings.gateway_detection_timeout_seconds = 0.1
    monkeypatch.setattr(proxy, "detector", lambda: _Slow())
    with pytest.raises(openai.APIStatusError) as failed:
        gateway.client().chat.completions.create(model="m", messages=MESSAGE)
    assert failed.value.status_code == 503
    assert failed.value.body["code"] == "detection_timeout"
    time.sleep(0.6)
    assert gateway.upstream.requests == []
    assert _events(gateway)[-1]["outcome"] == "detection_timeout"


def test_detection_failure_fails_closed(gateway, monkeypatch):
    monkeypatch.setattr(proxy, "detector", lambda: _Broken())
    with pytest.raises(openai.InternalServerError) as failed:
        gateway.client().chat.completions.create(model="m", messages=MESSAGE)
    assert failed.value.body["code"] == "detection_failed"
    assert "corrupt" not in failed.value.response.text
    assert gateway.upstream.requests == []


def test_rate_limit_per_key_is_kept_in_the_database(gateway):
    gateway.configure(rate_limit_per_minute=2)
    client = gateway.client()
    for _ in range(2):
        client.chat.completions.create(model="m", messages=MESSAGE)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m", messages=MESSAGE)
    assert limited.value.body["code"] == "rate_limit_exceeded"
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert len(gateway.upstream.requests) == 2


def test_not_configured(live_server, make_org, publish_example):
    org = make_org("bare")
    publish_example(org)
    r = httpx.post(
        live_server + "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGE},
        headers={"Authorization": f"Bearer {org.token}"},
    )
    assert r.status_code == 503 and _error_shape(r)["code"] == "upstream_not_configured"
