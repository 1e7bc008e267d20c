"""HTTP conventions every route shares."""

from __future__ import annotations

import io
import json
import logging

from privasi import logs


def test_health_ready_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "schema": "ok"}
    client.get("/api/v1/org")
    text = client.get("/metrics").text
    assert 'privasi_http_requests_total{method="GET",route="/api/v1/org",status="401"}' in text


def test_request_ids(client):
    r = client.get("/healthz")
    assert len(r.headers["x-request-id"]) == 24
    r = client.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
    assert r.headers["x-request-id"] == "abc-12345678"
    r = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    problem = client.get("/api/v1/org").json()
    assert problem["request_id"]


def test_body_limit_413(client, make_org, settings):
    acme = make_org("acme")
    big = b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'", "scopes": ["org.read"]}'
    r = client.post(
        "/api/v1/api-keys",
        content=big,
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["type"] == "urn:privasi:problem:payload-too-large"

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(settings.max_body_bytes // 1000 + 5):
            yield b"x" * 1000

    r = client.post(
        "/api/v1/api-keys",
        content=chunks(),
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_body_over_the_global_limit_answers_the_gateway_in_openai_shape(client, settings):
    big = b'{"model": "m", "messages": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    r = client.post(
        "/v1/chat/completions", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "request_too_large"


def test_unknown_route_is_problem_json(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_json_logs_drop_emails_and_phones():
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    try:
        logging.getLogger("privasi.test").info(
            "contact %s or %s",
            "budi.santoso@contoh.co.id",
            "+62 812-3456-7890",
            extra={"note": "reach rina@example.org"},
        )
    finally:
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if not getattr(h, "_privasi", False)
        ]
    line = stream.getvalue().strip().splitlines()[-1]
    entry = json.loads(line)
    assert "budi.santoso" not in line and "3456" not in line and "rina@" not in line
    assert entry["level"] == "info" and entry["logger"] == "privasi.test"
