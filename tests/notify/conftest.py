"""Fixtures of the outbox tests: an organisation with a published policy, and local servers
(SMTP through aiosmtpd, HTTP for the WhatsApp Cloud API and webhook receivers)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy import service as policies

MINIMAL = Path(__file__).resolve().parents[1] / "data" / "policies" / "minimal.yaml"


@pytest.fixture
def org(db, make_org):
    """An organisation "kopi-contoh" with the minimal policy published."""
    handle = make_org("kopi-contoh")
    with db.session(handle.id) as s:
        principal = orgs.system_principal(handle.id)
        version = policies.create_draft(s, principal, MINIMAL.read_text())
        policies.publish(s, principal, version)
    return handle


@pytest.fixture
def use_settings(db, settings):
    """Deliver with these settings changes (a mail server, an API base URL)."""

    def apply(**changes: Any) -> None:
        notify.configure(db, settings.model_copy(update=changes))

    yield apply
    notify.configure(db, settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    url: str
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # RCPT answers for addresses, e.g. {"gone@x.example": "550 no such user"}
    refuse: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    port = free_port()
    server = SmtpServer(url=f"smtp://127.0.0.1:{port}")

    class Handler:
        async def handle_RCPT(self, srv, session, envelope, address, rcpt_options):
            answer = server.refuse.get(address)
            if answer:
                return answer
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, srv, session, envelope):
            server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            server.messages.append(message_from_bytes(envelope.content))
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    # Answers in order; the last one repeats. Each: (status, JSON body) or a callable of the request.
    answers: list[Any] = field(default_factory=lambda: [(200, {})])


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    port = free_port()
    state = HttpServer(url=f"http://127.0.0.1:{port}")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorded = Recorded(self.path, dict(self.headers.items()), self.rfile.read(length))
            with lock:
                state.requests.append(recorded)
                index = min(len(state.requests), len(state.answers)) - 1
                answer = state.answers[index]
            status, payload = answer(recorded) if callable(answer) else answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def queue(db, org) -> Callable[..., str]:
    """Queue a message for the organisation in its own transaction; returns the message id."""

    def enqueue(**kwargs: Any) -> str:
        kwargs.setdefault("channel", "email")
        kwargs.setdefault("template", "verification_code")
        kwargs.setdefault("lang", "id")
        kwargs.setdefault("params", {"code": "482913", "minutes": 10})
        with db.session(org.id) as s:
            return notify.enqueue(s, **kwargs).id

    return enqueue


def status_of(db, org_id: str, message_id: str) -> Any:
    with db.session(org_id) as s:
        return notify.message_status(s, message_id)
