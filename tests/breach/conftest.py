"""Fixtures of the breach tests: Klinik Contoh (a fictional clinic) with its policy published,
a clinic database as an SQLite file, a DPO and an owner, a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.principal import Principal
from privasi.policy import service as policies
from privasi.vault.service import set_secret

DATA = Path(__file__).resolve().parents[1] / "data"
POLICY = DATA / "breach_policy.yaml"
PROCESSOR_POLICY = DATA / "breach_processor.yaml"
DETECTED = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # 09.00 WIB


@dataclass
class Clinic:
    id: str
    slug: str
    token: str
    dpo: Principal
    owner: Principal
    dpo_email: str
    owner_email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def publish(db: Any, org_id: str, text: str) -> None:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, text)
        policies.publish(s, principal, version)


def _staff(db: Any, settings: Any, org_id: str, email: str, role: str) -> Principal:
    with db.session(org_id) as s:
        user, _ = orgs.create_staff(s, settings, email=email, role=role)
        return orgs.staff_principal(user)


@pytest.fixture
def clinic(db, settings, make_org) -> Clinic:
    handle = make_org("klinik-contoh")
    publish(db, handle.id, POLICY.read_text())
    dpo = _staff(db, settings, handle.id, "dpo@klinik.example", "dpo")
    owner = _staff(db, settings, handle.id, "pemilik@klinik.example", "owner")
    return Clinic(
        handle.id,
        handle.slug,
        handle.token,
        dpo,
        owner,
        "dpo@klinik.example",
        "pemilik@klinik.example",
    )


@pytest.fixture
def clinic_db(db, clinic, tmp_path) -> str:
    """The clinic's own database: two patients before the breach, one after, and visits."""
    path = tmp_path / "clinic.sqlite"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    md = sa.MetaData()
    patients = sa.Table(
        "patients",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200)),
        sa.Column("notes", sa.String(500)),
        sa.Column("created_at", sa.DateTime),
    )
    visits = sa.Table(
        "visits",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer),
        sa.Column("visited_on", sa.String(20)),
        sa.Column("created_at", sa.DateTime),
    )
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            patients.insert(),
            [
                {
                    "id": 1,
                    "email": "ayu@pasien.example",
                    "notes": "alergi",
                    "created_at": datetime(2026, 1, 5),
                },
                {
                    "id": 2,
                    "email": "bima@pasien.example",
                    "notes": "",
                    "created_at": datetime(2026, 2, 9),
                },
                {
                    "id": 3,
                    "email": "citra@pasien.example",
                    "notes": "",
                    "created_at": datetime(2030, 6, 1),
                },
                {
                    "id": 4,
                    "email": "not-an-address",
                    "notes": "",
                    "created_at": datetime(2026, 1, 1),
                },
            ],
        )
        conn.execute(
            visits.insert(),
            [
                {
                    "id": 1,
                    "patient_id": 2,
                    "visited_on": "2026-03-01",
                    "created_at": datetime(2026, 3, 1),
                }
            ],
        )
    engine.dispose()
    with db.session(clinic.id) as s:
        set_secret(s, orgs.system_principal(clinic.id), "clinic_db", url)
    return url


@pytest.fixture
def use_settings(db, settings):
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
    refuse: dict[str, str] = field(default_factory=dict)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


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
            server.messages.append(message_from_bytes(envelope.content))
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def drain(db) -> Callable[[], None]:
    """Deliver every queued outbox message now (the worker's delivery job, run in place)."""
    from privasi.notify import delivery
    from privasi.notify.models import OutboxMessage

    def run() -> None:
        with db.session(system=True) as s:
            ids = list(
                s.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.status == "pending"))
            )
        for message_id in ids:
            delivery.deliver(db, message_id)

    return run


def body_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


# --- staff pages --------------------------------------------------------------------------------

PASSWORD = "teh-manis-hangat-2026"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def sign_in(db, settings, client):
    """Create a staff account (with TOTP) in an organisation and sign the test client in."""
    import pyotp

    def run(org_id: str, slug: str, role: str, email: str) -> None:
        with db.session(org_id) as s:
            user, _ = orgs.create_staff(s, settings, email=email, role=role, password=PASSWORD)
            secret, _ = orgs.start_totp_enrolment(s, settings, user, slug)
            user.totp_enabled = True
        client.cookies.clear()
        form = client.get("/admin/login")
        r = client.post(
            "/admin/login",
            data={
                "org": slug,
                "email": email,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        if r.headers["location"] == "/admin/login/totp":
            page = client.get("/admin/login/totp")
            r = client.post(
                "/admin/login/totp",
                data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page.text)},
                follow_redirects=False,
            )
        assert r.headers["location"] == "/admin", r.headers["location"]

    return run
