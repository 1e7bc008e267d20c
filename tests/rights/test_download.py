"""Signed download links of an access export: they serve the ZIP, are audited, expire, refuse
tampering and another organisation, and find nothing once the subject is erased.

People and addresses are fictional.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.db import utcnow
from privasi.errors import ValidationFailed
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.rights import downloads
from privasi.rights import service as rights
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "wulan.sari@contoh.example"


def make_world(db: Any, org: Any, email: str = EMAIL) -> Any:
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = "2026-01-01"
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        subject = subjects.find_or_create(s, principal, {"email": email})
        request = rights.submit(
            s, principal, type="access", channel="api", subject_id=subject.id, lang="en"
        )
        rights.mark_verified(s, principal, request, "staff_review", "checked at the desk")
        org.subject_id, org.request_id = subject.id, request.id
    return org


@pytest.fixture
def world(db: Any, make_org: Any) -> Any:
    return make_world(db, make_org("toko-unduh"))


def link(db: Any, org: Any, **kwargs: Any) -> str:
    with db.session(org.id) as s:
        request = rights.get_request(s, org.request_id)
        return downloads.download_link(s, request, **kwargs)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_a_link_serves_the_export_and_each_download_is_audited(
    client: Any, db: Any, world: Any
) -> None:
    url = link(db, world)
    assert url.startswith("http://") and "/downloads/" in url
    answer = client.get(path_of(url))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="data-req-000001.zip"' in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        data = json.loads(archive.read("data.json"))
        assert "Processing record" in archive.read("summary.html").decode()
    assert data["identifiers"] == {"email": [EMAIL]}
    assert client.get(path_of(url)).status_code == 200
    with db.session(world.id) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "export.downloaded")).all()
    assert len(events) == 2
    assert {e.subject_id for e in events} == {world.subject_id}
    assert EMAIL not in json.dumps([e.details for e in events])
    # The next export lists the downloads in the person's processing record.
    with zipfile.ZipFile(io.BytesIO(client.get(path_of(url)).content)) as archive:
        trail = json.loads(archive.read("data.json"))["processing_record"]
    assert sum(e["action"] == "export.downloaded" for e in trail) == 2


def test_an_expired_link_is_gone(client: Any, db: Any, world: Any) -> None:
    with db.session(world.id) as s:
        past = downloads.make_token(
            s, "download", world.request_id, utcnow() - timedelta(seconds=1)
        )
        soon = downloads.make_token(
            s, "download", world.request_id, utcnow() + timedelta(minutes=2)
        )
    gone = client.get(f"/downloads/{past}")
    assert gone.status_code == 404
    assert "no longer available" in gone.text or "sudah tidak tersedia" in gone.text
    assert client.get(f"/downloads/{soon}").status_code == 200
    with db.session(world.id) as s:
        request = rights.get_request(s, world.request_id)
        with pytest.raises(ValidationFailed):
            downloads.download_link(s, request, ttl=timedelta(days=31))


def test_tampered_links_are_refused(client: Any, db: Any, world: Any) -> None:
    token = path_of(link(db, world)).rsplit("/", 1)[1]
    body, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert client.get(f"/downloads/{body}.{flipped}").status_code == 404
    # A body naming another request, even with a real MAC of this organisation, fails.
    longer = b64(json.dumps({"o": world.id, "r": "other-request", "e": 4102444800}).encode())
    assert client.get(f"/downloads/{longer}.{mac}").status_code == 404
    assert client.get("/downloads/not-a-token").status_code == 404


def test_a_link_of_one_org_opens_nothing_in_another(
    client: Any, db: Any, world: Any, make_org: Any
) -> None:
    other = make_world(db, make_org("toko-lain"), email="yusuf@contoh.example")
    token_a = path_of(link(db, world)).rsplit("/", 1)[1]
    mac_a = token_a.split(".")[1]
    # Org B's request id inside org A's token body: the MAC no longer matches.
    forged = b64(json.dumps({"o": other.id, "r": other.request_id, "e": 4102444800}).encode())
    assert client.get(f"/downloads/{forged}.{mac_a}").status_code == 404
    assert client.get(f"/downloads/{token_a}").status_code == 200


def test_after_erasure_the_link_finds_nothing(client: Any, db: Any, world: Any) -> None:
    url = link(db, world)
    with db.session(world.id) as s:
        vault_for(s).shred(world.id, world.subject_id, session=s)
    answer = client.get(path_of(url))
    assert answer.status_code == 404
    assert EMAIL not in answer.text


def test_only_access_and_portability_requests_have_a_download(db: Any, world: Any) -> None:
    with db.session(world.id) as s:
        erasure = rights.submit(
            s,
            system_principal(world.id),
            type="erasure",
            channel="api",
            subject_id=world.subject_id,
        )
        with pytest.raises(ValidationFailed):
            downloads.download_link(s, erasure)


def test_staff_email_a_fresh_link_to_the_address_on_record(
    client: Any, db: Any, world: Any
) -> None:
    from privasi.notify import service as notify
    from privasi.notify.models import OutboxMessage

    answer = client.post(
        f"/api/v1/requests/{world.request_id}/download-link",
        json={"ttl_days": 3},
        headers=world.headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sent"] is True
    with db.session(world.id) as s:
        [message] = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "rights_export_ready")
        ).all()
        assert (message.channel, message.subject_id, message.lang) == (
            "email",
            world.subject_id,
            "en",
        )
        params = notify.open_payload(vault_for(s), message)["params"]
        assert params["url"] == body["url"] and params["number"] == "REQ-000001"
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "export.sent")).one()
    assert client.get(path_of(body["url"])).status_code == 200
    too_long = client.post(
        f"/api/v1/requests/{world.request_id}/download-link",
        json={"ttl_days": 60},
        headers=world.headers,
    )
    assert too_long.status_code == 422


def test_no_link_before_identity_is_verified(client: Any, db: Any, world: Any) -> None:
    with db.session(world.id) as s:
        unverified = rights.submit(
            s,
            system_principal(world.id),
            type="portability",
            channel="api",
            subject_id=world.subject_id,
        )
    answer = client.post(
        f"/api/v1/requests/{unverified.id}/download-link", json={}, headers=world.headers
    )
    assert answer.status_code == 422


def test_the_worker_sends_the_link_once_an_access_request_is_done(db: Any, world: Any) -> None:
    from privasi import worker
    from privasi.notify.models import OutboxMessage
    from privasi.rights import execution

    principal = system_principal(world.id)
    worker.load_handlers()  # the connectors' executors, as in a running worker
    with contextlib.suppress(RuntimeError):  # the CRM has no credential stored: its task fails
        execution.run_tasks(db, world.request_id)
    with db.session(world.id) as s:
        request = rights.get_request(s, world.request_id)
        for task in rights.tasks_of(s, request):
            if task.status in ("pending", "failed"):
                execution.complete_task(s, principal, request, task.id, note="searched")
        assert request.status == "completed"
    worker.tick(db)
    worker.tick(db)
    with db.session(world.id) as s:
        messages = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "rights_export_ready")
        ).all()
        request = rights.get_request(s, world.request_id)
    assert len(messages) == 1
    assert messages[0].subject_id == world.subject_id
    link_outcome = request.outcome["export_link"]
    assert link_outcome["sent"] is True
    expires = datetime.fromisoformat(link_outcome["expires_at"])
    assert timedelta(days=6) < expires - utcnow() <= timedelta(days=7)
