"""The http connector against a local endpoint (a thread on 127.0.0.1) that checks every
signature: access, erasure and rectification; answers given at once, by poll and by callback;
a failing endpoint retried; a tampered callback refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from privasi.connectors import http as connector
from privasi.notify import signing
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import execution, export
from privasi.rights import service as rights
from privasi.rights.models import RequestTask
from privasi.subjects import service as subjects
from privasi.vault import secrets

POLICY = Path(__file__).parents[1] / "rights" / "data" / "warung.yaml"
SECRET = "rahasia-endpoint-toko-0123456789"
EMAIL = "dewi.lestari@contoh.example"
PHONE = "+6281234567002"
CALLBACK = "/integrations/connectors/toko-contoh/loyalty/callback"


@dataclass
class Endpoint:
    """The business's side of the protocol, as a test double that behaves like a real one."""

    secret: str = SECRET
    mode: str = "sync"  # sync | poll | callback
    fail_first: int = 0
    status_host: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    polls_until_done: int = 1
    polls: int = 0
    url: str = ""
    before_answer: Any = None  # called with the operation before the endpoint replies

    def result(self, op: dict[str, Any]) -> dict[str, Any]:
        if op["action"] == "test":
            assert op["dry_run"] is True
            found = EMAIL in op["subject"]["identifiers"].get("email", [])
            return {
                "id": op["id"],
                "status": "done",
                "counts": {"contact": 1, "orders": 3} if found else {},
            }
        if op["action"] == "access":
            return {
                "id": op["id"],
                "status": "done",
                "records": [
                    {"category": "contact", "field": "member_email", "value": EMAIL},
                    {"category": "orders", "field": "points", "value": 1250},
                ],
            }
        if op["action"] == "erase":
            return {"id": op["id"], "status": "done", "kept": op["keep"]}
        return {"id": op["id"], "status": "done"}


def _serve(endpoint: Endpoint) -> Iterator[Endpoint]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _signed(self, body: bytes) -> bool:
            ok = signing.verify(
                endpoint.secret,
                body,
                self.headers.get(signing.TIMESTAMP_HEADER),
                self.headers.get(signing.SIGNATURE_HEADER),
            )
            if not ok:
                endpoint.refused += 1
                self._reply(401, {"error": "bad signature"})
            return ok

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not self._signed(body):
                return
            op = json.loads(body)
            endpoint.calls.append(op)
            assert self.headers[signing.MESSAGE_ID_HEADER] == op["id"]
            if endpoint.before_answer is not None:
                endpoint.before_answer(op)
            if endpoint.fail_first > 0:
                endpoint.fail_first -= 1
                self._reply(503, {"error": "sedang pemeliharaan"})
            elif endpoint.mode == "sync":
                self._reply(200, endpoint.result(op))
            elif endpoint.mode == "poll":
                host = endpoint.status_host or endpoint.url
                self._reply(202, {"status": "accepted", "status_url": f"{host}/status/{op['id']}"})
            else:
                self._reply(202, {"status": "accepted"})

        def do_GET(self) -> None:
            if not self._signed(b""):
                return
            endpoint.polls += 1
            op = next(c for c in endpoint.calls if self.path == f"/status/{c['id']}")
            if endpoint.polls < endpoint.polls_until_done + 1:
                self._reply(200, {"id": op["id"], "status": "pending"})
            else:
                self._reply(200, endpoint.result(op))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    yield from _serve(Endpoint())


@pytest.fixture
def toko(db: Any, make_org: Any, endpoint: Endpoint) -> Any:
    """A shop whose loyalty service is an http system, with Dewi as a customer."""
    org = make_org("toko-contoh")
    system = (
        "systems:\n"
        "  - id: loyalty\n"
        "    name: Layanan Poin\n"
        "    kind: http\n"
        "    credential: loyalty_endpoint\n"
        f"    base_url: {endpoint.url}/privasi\n"
        "    categories: [contact, orders, invoices]\n"
    )
    source = POLICY.read_text().replace("slug: warung-contoh", "slug: toko-contoh")
    start, end = source.index("systems:\n"), source.index("retention:\n")
    source = source[:start] + system + source[end:]
    with db.session(org.id) as s:
        principal = orgs.system_principal(org.id)
        policies.publish(s, principal, policies.create_draft(s, principal, source))
        secrets.set_secret(s, principal, "loyalty_endpoint", SECRET)
        org.subject_id = subjects.find_or_create(s, principal, {"email": EMAIL, "phone": PHONE}).id
    return org


def _request(db: Any, org: Any, type_: str, **details: Any) -> str:
    with db.session(org.id) as s:
        principal = orgs.system_principal(org.id, "test")
        request = rights.submit(
            s,
            principal,
            type=type_,
            channel="api",
            subject_id=org.subject_id,
            details=details or None,
        )
        rights.mark_verified(s, principal, request, "staff_review", "KTP diperiksa di toko")
        if type_ == "rectification":
            rights.approve(s, principal, request)
        return request.id


def _task(db: Any, org: Any, request_id: str) -> RequestTask:
    with db.session(org.id) as s:
        task = s.scalar(
            select(RequestTask).where(
                RequestTask.request_id == request_id, RequestTask.system_id == "loyalty"
            )
        )
        assert task is not None
        return task


def _signed_post(client: Any, payload: dict[str, Any], secret: str = SECRET) -> Any:
    body = json.dumps(payload).encode()
    now = int(time.time())
    return client.post(
        CALLBACK,
        content=body,
        headers={
            "Content-Type": "application/json",
            signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign(secret, now, body),
        },
    )


def test_access_answered_at_once_joins_the_export(db: Any, toko: Any, endpoint: Endpoint) -> None:
    request_id = _request(db, toko, "access")
    statuses = execution.run_tasks(db, request_id)
    assert statuses == {"privasi": "done", "loyalty": "done"}
    [op] = endpoint.calls
    assert op["action"] == "access" and op["version"] == 1
    assert op["subject"]["identifiers"] == {"email": [EMAIL], "phone": [PHONE]}
    assert op["callback_url"].endswith(CALLBACK)
    assert endpoint.refused == 0
    with db.session(toko.id) as s:
        request = rights.get_request(s, request_id)
        assert request.status == "completed"
        data = export.export_data(s, request, "en")
    loyalty = [
        (r["category"], r["field"], r["value"]) for r in data["records"] if r["system"] == "loyalty"
    ]
    assert sorted(loyalty) == [("contact", "member_email", EMAIL), ("orders", "points", 1250)]
    task = _task(db, toko, request_id)
    assert connector.task_status(task)["state"] == "received"
    assert EMAIL not in json.dumps(task.result)  # records are sealed with the subject's key


def test_erasure_by_poll_keeps_what_the_law_keeps(db: Any, toko: Any, endpoint: Endpoint) -> None:
    endpoint.mode = "poll"
    request_id = _request(db, toko, "erasure")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)  # accepted: the result is not there yet
    task = _task(db, toko, request_id)
    assert connector.task_status(task)["state"] == "accepted"
    assert _task(db, toko, request_id).result["http"]["status_url"].startswith(endpoint.url)
    with db.session(toko.id) as s:  # privasi's own erasure waits for the other systems
        assert rights.get_request(s, request_id).status == "in_progress"
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)  # polled once: still pending
    statuses = execution.run_tasks(db, request_id)
    assert statuses == {"privasi": "done", "loyalty": "done"}
    assert len(endpoint.calls) == 1  # sent once, polled twice
    assert endpoint.polls == 2
    [op] = endpoint.calls
    assert op["action"] == "erase"
    assert [k["categories"] for k in op["keep"]] == [["invoices"]]
    task = _task(db, toko, request_id)
    assert task.result["kept"][0]["rule"] == "invoices"


def test_rectification_by_callback_refuses_tampering(
    client: Any, db: Any, toko: Any, endpoint: Endpoint
) -> None:
    endpoint.mode = "callback"
    new_email = "dewi.baru@contoh.example"
    request_id = _request(db, toko, "rectification", changes={"email": new_email})
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    [op] = endpoint.calls
    assert op["action"] == "rectify" and op["changes"] == {"email": new_email}
    assert op["subject"]["identifiers"]["email"] == [EMAIL]  # found by what it held before
    result = {"id": op["id"], "status": "done"}

    tampered = _signed_post(client, result, secret="bukan-rahasia-yang-benar")
    assert tampered.status_code == 401
    body = json.dumps(result).encode()
    now = int(time.time())
    changed = client.post(
        CALLBACK,
        content=body.replace(b"done", b"fail"),
        headers={
            signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign(SECRET, now, body),
        },
    )
    assert changed.status_code == 401
    elsewhere = client.post(
        "/integrations/connectors/toko-lain/loyalty/callback",
        content=body,
        headers={
            signing.TIMESTAMP_HEADER: str(now),
            signing.SIGNATURE_HEADER: signing.sign(SECRET, now, body),
        },
    )
    assert elsewhere.status_code == 401
    assert _task(db, toko, request_id).status == "waiting"  # still waiting for a real answer

    first = _signed_post(client, result)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "received"
    again = _signed_post(client, result)
    assert again.status_code == 200
    statuses = execution.run_tasks(db, request_id)
    assert statuses["loyalty"] == "done"
    assert len(endpoint.calls) == 1
    assert _signed_post(client, result).json()["status"] == "done"  # idempotent after the end


def test_failing_endpoint_is_retried_with_the_same_id(
    db: Any, toko: Any, endpoint: Endpoint
) -> None:
    endpoint.fail_first = 2
    request_id = _request(db, toko, "access")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            execution.run_tasks(db, request_id)
        task = _task(db, toko, request_id)
        assert task.status == "failed"
        assert connector.task_status(task)["last_error"] == "loyalty: http 503"
    assert execution.run_tasks(db, request_id)["loyalty"] == "done"
    assert len(endpoint.calls) == 3
    assert len({c["id"] for c in endpoint.calls}) == 1  # one idempotency key for every attempt
    assert _task(db, toko, request_id).attempts == 3


def test_a_failed_job_is_retried_by_the_worker(db: Any, toko: Any, endpoint: Endpoint) -> None:
    from privasi import worker
    from privasi.jobs.models import Job

    endpoint.fail_first = 1
    request_id = _request(db, toko, "access")
    worker.tick(db)
    with db.session(system=True) as s:
        job = s.scalar(select(Job).where(Job.kind == execution.EXECUTE_KIND))
        assert job is not None and job.state == "pending" and job.last_error == "RuntimeError"
        job.due_at = job.created_at  # the backoff has passed
    worker.tick(db)
    with db.session(toko.id) as s:
        assert rights.get_request(s, request_id).status == "completed"


def test_wrong_secret_or_foreign_status_url_is_an_error(
    db: Any, toko: Any, endpoint: Endpoint
) -> None:
    endpoint.secret = "rahasia-lain-di-sisi-endpoint"
    request_id = _request(db, toko, "access")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    assert endpoint.refused == 1 and endpoint.calls == []
    assert connector.task_status(_task(db, toko, request_id))["last_error"] == "loyalty: http 401"

    endpoint.secret, endpoint.mode = SECRET, "poll"
    endpoint.status_host = "http://127.0.0.2:9"
    other = _request(db, toko, "erasure")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, other)
    status = connector.task_status(_task(db, toko, other))
    assert "status_url" in status["last_error"] and status["state"] != "accepted"


def test_a_callback_before_the_answer_does_not_wait_on_the_task(
    db: Any, toko: Any, endpoint: Endpoint
) -> None:
    """An endpoint that finishes at once and calls back before it replies to the POST."""
    endpoint.mode = "callback"
    taken: list[dict[str, Any]] = []

    def call_back(op: dict[str, Any]) -> None:
        started = time.monotonic()
        with db.session(toko.id) as s:
            taken.append(connector.take_callback(s, "loyalty", endpoint.result(op)))
        taken[-1]["seconds"] = time.monotonic() - started

    endpoint.before_answer = call_back
    request_id = _request(db, toko, "access")
    assert execution.run_tasks(db, request_id) == {"privasi": "done", "loyalty": "done"}
    assert taken[0]["status"] == "received" and taken[0]["seconds"] < 2
    assert len(endpoint.calls) == 1
    with db.session(toko.id) as s:
        data = export.export_data(s, rights.get_request(s, request_id), "en")
    assert any(r["system"] == "loyalty" and r["value"] == EMAIL for r in data["records"])


def test_task_state_is_visible_through_the_api(
    client: Any, db: Any, toko: Any, endpoint: Endpoint
) -> None:
    endpoint.mode = "poll"
    request_id = _request(db, toko, "access")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    detail = client.get(f"/api/v1/requests/{request_id}", headers=toko.headers).json()
    [loyalty] = [t for t in detail["tasks"] if t["system_id"] == "loyalty"]
    assert loyalty["kind"] == "http" and loyalty["result"]["http"]["state"] == "accepted"
    assert EMAIL not in json.dumps(detail["tasks"])


def test_connector_check_counts_without_values(db: Any, toko: Any, endpoint: Endpoint) -> None:
    from privasi.connectors import http_check

    with db.session(toko.id) as s:
        system = connector.system_of(s, "loyalty")
        report = http_check.run_check(s, system, {"email": [EMAIL]})
        assert report.ok, report.checks
        [table] = report.tables
        assert table.categories == {"contact": 1, "orders": 3} and table.rows == 4
        assert EMAIL not in json.dumps(report.as_dict())
        nobody = http_check.run_check(s, system, {"email": ["tidak.ada@contoh.example"]})
        assert nobody.ok and nobody.tables[0].rows == 0
        endpoint.secret = "rahasia-yang-sudah-diganti"
        refused = http_check.run_check(s, system, {"email": [EMAIL]})
        assert not refused.ok
        assert "refused our signature" in refused.checks[-1]["detail"]
    assert [c["action"] for c in endpoint.calls] == ["test", "test"]  # nothing else was asked


def test_polling_continues_after_the_quick_retries(db: Any, toko: Any, endpoint: Endpoint) -> None:
    from privasi import worker
    from privasi.jobs.models import Job

    endpoint.mode, endpoint.polls_until_done = "poll", 0
    request_id = _request(db, toko, "access")
    worker.tick(db)  # sent and accepted; the job retries soon
    assert endpoint.polls == 0 and len(endpoint.calls) == 1
    task = _task(db, toko, request_id)
    assert task.status == "waiting" and connector.task_status(task)["state"] == "accepted"
    with db.session(system=True) as s:  # the job's own retries are not due in this test
        for job in s.scalars(select(Job).where(Job.state == "pending")):
            job.due_at = job.due_at + timedelta(hours=1)
    worker.tick(db)  # not yet time to poll again: nothing is asked
    asked = endpoint.polls
    assert asked == 0
    with db.session(toko.id) as s:
        row = s.get(RequestTask, task.id)
        assert row is not None
        state = dict(row.result["http"])
        state["polled_at"] = state["accepted_at"] = int(time.time()) - connector.POLL_EVERY - 1
        row.result = {**row.result, "http": state}
    worker.tick(db)
    assert endpoint.polls == asked + 1
    with db.session(toko.id) as s:
        assert rights.get_request(s, request_id).status == "completed"
