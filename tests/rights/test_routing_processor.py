"""Processor mode end to end: the controller is told and must approve; the processor's part runs
in its own organisation and is reported back; two Business Users of one processor never see
each other's requests, subjects or tasks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from privasi import worker
from privasi.errors import InvalidTransition, NotFound
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.staff import create_staff
from privasi.rights import execution, routing
from privasi.rights import service as rights
from privasi.rights.models import RequestTask, RightsRequest
from privasi.subjects import service as subjects
from privasi.vault import secrets
from privasi.vault.service import vault_for

from .conftest import EMAIL, publish_warung

OTHER_EMAIL = "bayu.pratama@kedua.example"
HOOK = "https://hooks.warung.example/privasi"


def _grant(db: Any, org: Any, actions: list[str]) -> None:
    with db.session(org.id) as s:
        orgs.create_hosting_grant(
            s,
            processor=orgs.get_org_by_slug(s, "tek-ino"),
            actions=actions,
            instructions="Teruskan permintaan pelanggan kami kepada kami.",
            approved_subprocessors=[],
        )


@pytest.fixture
def tek_ino(db: Any, make_org: Any) -> Any:
    proc = make_org("tek-ino", role="processor")
    publish_warung(db, proc.id, proc.slug, **{"  role: controller\n": "  role: processor\n"})
    return proc


@pytest.fixture
def hosted(db: Any, settings: Any, warung: Any, customer: str, tek_ino: Any) -> Any:
    """Warung Contoh hosted by Tek Ino, with a DPO and a webhook for routed requests."""
    _grant(db, warung, ["requests.manage", "requests.read"])
    with db.session(warung.id) as s:
        create_staff(s, settings, email="dpo@warung.example", role="dpo", name="Rina")
        secrets.set_secret(s, orgs.system_principal(warung.id), routing.WEBHOOK_SECRET, HOOK)
    return warung


def _route(client: Any, proc: Any, email: str, slug: str, type_: str = "access") -> dict[str, Any]:
    created = client.post(
        "/api/v1/requests",
        json={"type": type_, "channel": "whatsapp", "identifiers": {"email": email}},
        headers=proc.headers,
    )
    assert created.status_code == 201, created.text
    routed = client.post(
        f"/api/v1/requests/{created.json()['id']}/route",
        json={"controller": slug},
        headers=proc.headers,
    )
    assert routed.status_code == 200, routed.text
    return dict(routed.json())


def _verify(db: Any, org_id: str, request_id: str) -> None:
    with db.session(org_id) as s:
        request = rights.get_request(s, request_id)
        rights.mark_verified(
            s, orgs.system_principal(org_id, "staff"), request, "staff_review", "KTP dicocokkan"
        )


def _statuses(db: Any, org_id: str, request_id: str) -> dict[str, str]:
    with db.session(org_id) as s:
        return {
            t.system_id: t.status for t in rights.tasks_of(s, rights.get_request(s, request_id))
        }


def test_controller_is_told_and_must_approve_then_the_part_is_reported_back(
    client: Any, db: Any, hosted: Any, tek_ino: Any
) -> None:
    routed = _route(client, tek_ino, EMAIL, "warung-contoh")
    with db.session(hosted.id) as s:
        messages = {
            (m.channel, m.template): notify.open_payload(vault_for(s), m)
            for m in s.scalars(select(notify.OutboxMessage))
            if m.template == routing.TEMPLATE
        }
    assert set(messages) == {("email", routing.TEMPLATE), ("webhook", routing.TEMPLATE)}
    assert messages[("email", routing.TEMPLATE)]["to"] == "dpo@warung.example"
    assert messages[("webhook", routing.TEMPLATE)]["to"] == HOOK

    principal = orgs.system_principal(hosted.id, "dpo")
    with pytest.raises(InvalidTransition):
        routing.approve(db, principal, routed["id"])  # the requester is not verified yet
    _verify(db, hosted.id, routed["id"])
    assert execution.run_tasks(db, routed["id"]) == {"privasi": "pending", "crm": "pending"}
    with db.session(hosted.id) as s:
        held = rights.get_request(s, routed["id"])
        assert held.outcome["approval"] == "pending" and held.status == "in_progress"

    approved = routing.approve(db, principal, routed["id"])
    assert approved["approval"] == "approved"
    assert approved["tasks"]["processor:tek-ino"] == "pending"
    assert routing.approve(db, principal, routed["id"]) == approved  # approving twice: no change
    statuses = execution.run_tasks(db, routed["id"])
    assert statuses == {"privasi": "done", "crm": "pending", "processor:tek-ino": "pending"}

    # The processor's part: recorded in Tek Ino's organisation, verified on the controller's word.
    with db.session(tek_ino.id) as s:
        parts = [r for r in rights.list_requests(s).items if (r.outcome or {}).get("part_of")]
        assert len(parts) == 1
        part = parts[0]
        assert part.outcome["part_of"]["number"] == routed["number"]
        assert part.verified_at is not None and part.received_at == held.received_at
        crm = next(t for t in rights.tasks_of(s, part) if t.system_id == "crm")
        part_id, crm_id = part.id, crm.id
    execution.run_tasks(db, part_id)
    worker.tick(db)
    assert _statuses(db, hosted.id, routed["id"])["processor:tek-ino"] == "pending"
    with db.session(tek_ino.id) as s:
        part = rights.get_request(s, part_id)
        by = orgs.system_principal(tek_ino.id, "staff")
        execution.complete_task(s, by, part, crm_id, note="dihapus dari inbox pelanggan")
        assert part.status == "completed"

    worker.tick(db)  # the reconciler sees the finished part; the report job runs
    assert _statuses(db, hosted.id, routed["id"])["processor:tek-ino"] == "done"
    with db.session(hosted.id) as s:
        task = s.scalar(select(RequestTask).where(RequestTask.system_id == "processor:tek-ino"))
        assert task is not None and task.result["reported"]["status"] == "completed"
        assert task.result["reported"]["number"] == "REQ-000002"
    assert routing.report(db, task.id) == "done"  # reporting again changes nothing


def test_two_business_users_never_see_each_other(
    client: Any, db: Any, make_org: Any, hosted: Any, tek_ino: Any
) -> None:
    kedua = make_org("toko-kedua")
    publish_warung(db, kedua.id, kedua.slug)
    _grant(db, kedua, ["requests.manage", "requests.read"])
    with db.session(kedua.id) as s:
        bayu = subjects.find_or_create(s, orgs.system_principal(kedua.id), {"email": OTHER_EMAIL})
        bayu_id = bayu.id

    to_warung = _route(client, tek_ino, EMAIL, "warung-contoh", "erasure")
    to_kedua = _route(client, tek_ino, OTHER_EMAIL, "toko-kedua", "erasure")
    # The slug chooses: an identifier known only to the other Business User is not looked up.
    wrong = _route(client, tek_ino, OTHER_EMAIL, "warung-contoh")

    for org, mine, theirs in (
        (hosted, to_warung, to_kedua),
        (kedua, to_kedua, to_warung),
    ):
        listed = client.get("/api/v1/requests", headers=org.headers).json()
        ids = {item["id"] for item in listed["items"]}
        assert mine["id"] in ids and theirs["id"] not in ids
        assert (
            client.get(f"/api/v1/requests/{theirs['id']}", headers=org.headers).status_code == 404
        )
        approve = client.post(f"/api/v1/requests/{theirs['id']}/approve", headers=org.headers)
        assert approve.status_code == 404
        with db.session(org.id) as s, pytest.raises(NotFound):
            rights.get_request(s, theirs["id"])

    with db.session(hosted.id) as s:
        assert subjects.find_existing(s, {"email": OTHER_EMAIL}) is None
        unmatched = rights.get_request(s, wrong["id"])
        assert unmatched.subject_id is None  # recorded, unmatched: not found in toko-kedua
        assert s.get(RightsRequest, to_kedua["id"]) is None
    with db.session(kedua.id) as s:
        assert rights.get_request(s, to_kedua["id"]).subject_id == bayu_id
        assert subjects.find_existing(s, {"email": EMAIL}) is None

    for org, routed in ((hosted, to_warung), (kedua, to_kedua)):
        _verify(db, org.id, routed["id"])
        routing.approve(db, orgs.system_principal(org.id, "dpo"), routed["id"])
    with db.session(hosted.id) as s:
        tasks = s.scalars(select(RequestTask)).all()
        assert {t.request_id for t in tasks} <= {to_warung["id"], wrong["id"]}
    with db.session(kedua.id) as s:
        tasks = s.scalars(select(RequestTask)).all()
        assert {t.request_id for t in tasks} == {to_kedua["id"]}
        with pytest.raises(NotFound):
            routing.approve(db, orgs.system_principal(kedua.id, "dpo"), to_warung["id"])
    # Each part sits in the processor's organisation and names only its own controller.
    with db.session(tek_ino.id) as s:
        parts = {
            r.outcome["part_of"]["org"]: r.outcome["part_of"]["request_id"]
            for r in rights.list_requests(s).items
            if (r.outcome or {}).get("part_of")
        }
    assert parts == {"warung-contoh": to_warung["id"], "toko-kedua": to_kedua["id"]}


def test_a_request_not_routed_in_has_nothing_to_approve(
    db: Any, warung: Any, customer: str
) -> None:
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "staff")
        own = rights.submit(s, principal, type="access", channel="api", subject_id=customer)
        own_id = own.id
    with pytest.raises(InvalidTransition):
        routing.approve(db, orgs.system_principal(warung.id, "dpo"), own_id)


def test_the_controller_message_reads_in_both_languages() -> None:
    params = {
        "org_name": "Warung Contoh",
        "number": "REQ-000007",
        "type_name": "penghapusan",
        "processor": "Tek Ino",
        "due": "2026-08-17T10:00:00+00:00",
    }
    indonesian = notify.render(routing.TEMPLATE, "id", params)
    english = notify.render(routing.TEMPLATE, "en", params)
    assert "diteruskan oleh Tek Ino" in indonesian.subject
    assert "17 Agustus 2026" in indonesian.text and "menyetujuinya" in indonesian.text
    assert "routed to you by Tek Ino" in english.subject and "17 August 2026" in english.text


def test_the_controller_approves_through_the_api(
    client: Any, db: Any, hosted: Any, tek_ino: Any
) -> None:
    routed = _route(client, tek_ino, EMAIL, "warung-contoh")
    path = f"/api/v1/requests/{routed['id']}/approve-routed"
    assert client.post(path, headers=hosted.headers).status_code == 409  # not verified yet
    _verify(db, hosted.id, routed["id"])
    answer = client.post(path, headers=hosted.headers)
    assert answer.status_code == 200, answer.text
    assert any(t["system_id"] == "processor:tek-ino" for t in answer.json()["tasks"])
    # the processor cannot approve on the controller's behalf
    other = client.post(path, headers=tek_ino.headers)
    assert other.status_code == 404
