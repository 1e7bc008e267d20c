"""Due times from the law and the policy, computed in the organisation's time zone, and the
worker's reminders (50%, 90%) and overdue marking, each checked one second either side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from privasi import worker
from privasi.audit.models import AuditEvent
from privasi.notify.models import OutboxMessage
from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation
from privasi.rights import deadlines, lifecycle
from privasi.rights import service as rights

from .conftest import publish_warung

WIB = ZoneInfo("Asia/Jakarta")
SECOND = timedelta(seconds=1)


def _submit(db: Any, org_id: str, subject_id: str, type_: str, received: datetime) -> str:
    with db.session(org_id) as s:
        request = rights.submit(
            s,
            orgs.system_principal(org_id),
            type=type_,
            channel="api",
            subject_id=subject_id,
            received_at=received,
            details={"changes": {"phone": "+6281234567009"}} if type_ == "rectification" else None,
        )
        return request.id


def _reminders(db: Any, org_id: str, stage: str) -> int:
    with db.session(org_id) as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "rights_deadline_reminder")
        )
        return sum(1 for m in rows if m.dedupe_key and f":{stage}:" in m.dedupe_key)


def _check(db: Any, org_id: str, now: datetime) -> dict[str, int]:
    with db.session(org_id) as s:
        return deadlines.check_org(s, now)


@pytest.mark.parametrize(
    ("type_", "due_local", "basis"),
    [
        ("access", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("portability", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("rectification", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("restriction", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("objection", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("withdraw_consent", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        ("automated_decision_objection", datetime(2026, 3, 13, 9, 0, tzinfo=WIB), "law:PT72H"),
        # No statutory clock for erasure under UU PDP: the policy's promise of 14 days binds.
        ("erasure", datetime(2026, 3, 24, 9, 0, tzinfo=WIB), "policy:P14D"),
    ],
)
def test_due_time_is_the_stricter_of_law_and_promise(
    client: Any, db: Any, warung: Any, customer: str, type_: str, due_local: datetime, basis: str
) -> None:
    received = datetime(2026, 3, 10, 9, 0, tzinfo=WIB)
    request_id = _submit(db, warung.id, customer, type_, received)
    shown = client.get(f"/api/v1/requests/{request_id}", headers=warung.headers).json()
    assert shown["due_at_local"] == due_local.isoformat()
    assert datetime.fromisoformat(shown["due_at"]) == due_local.astimezone(UTC)
    assert shown["deadline_basis"] == basis


def test_gdpr_month_ends_on_the_same_local_day_and_withdrawal_is_immediate(
    db: Any, make_org: Any
) -> None:
    org = make_org("toko-eropa")
    publish_warung(
        db,
        org.id,
        org.slug,
        **{
            "effective_date: 2026-01-01\n": "effective_date: 2026-01-01\njurisdictions: [gdpr]\n",
            "  default_deadline: P30D\n": "",
            "    erasure: P14D\n": "    erasure: P3M\n",
        },
    )
    with db.session(org.id) as s:
        subject = rights.subjects.find_or_create(
            s, orgs.system_principal(org.id), {"email": "eva@contoh.example"}
        )
    # 31 January 02:00 in Jakarta is still 30 January in UTC: the month is counted locally.
    received = datetime(2026, 1, 31, 2, 0, tzinfo=WIB)
    access = _submit(db, org.id, subject.id, "access", received)
    erasure = _submit(db, org.id, subject.id, "erasure", received)
    withdrawal = _submit(db, org.id, subject.id, "withdraw_consent", received)
    with db.session(org.id) as s:
        assert rights.get_request(s, access).due_at == datetime(2026, 2, 28, 2, 0, tzinfo=WIB)
        # The law's month is stricter than the policy's three months.
        assert rights.get_request(s, erasure).due_at == datetime(2026, 2, 28, 2, 0, tzinfo=WIB)
        assert rights.get_request(s, withdrawal).due_at == received


def test_reminders_and_overdue_one_second_either_side(
    db: Any, settings: Any, warung: Any, customer: str
) -> None:
    with db.session(warung.id) as s:
        orgs.create_staff(s, settings, email="dpo@warung.example", role="dpo")
        agent, _ = orgs.create_staff(s, settings, email="cs@warung.example", role="agent")
    received = datetime(2026, 3, 10, 9, 0, tzinfo=WIB)
    request_id = _submit(db, warung.id, customer, "access", received)
    half = datetime(2026, 3, 11, 21, 0, tzinfo=WIB)  # 36 of 72 hours
    ninety = datetime(2026, 3, 13, 1, 48, tzinfo=WIB)  # 64.8 of 72 hours
    due = datetime(2026, 3, 13, 9, 0, tzinfo=WIB)

    assert _check(db, warung.id, half - SECOND) == {"reminders": 0, "overdue": 0}
    assert _reminders(db, warung.id, "50") == 0
    # Nobody assigned: the DPO (and owners) hear of it.
    assert _check(db, warung.id, half + SECOND)["reminders"] == 1
    assert _check(db, warung.id, half + 2 * SECOND)["reminders"] == 0  # once only

    with db.session(warung.id) as s:
        request = rights.get_request(s, request_id)
        lifecycle.assign(s, orgs.system_principal(warung.id), request, agent.id)
    assert _check(db, warung.id, ninety - SECOND)["reminders"] == 0
    assert _check(db, warung.id, ninety + SECOND)["reminders"] == 1
    with db.session(warung.id) as s:
        ninety_msg = s.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like("%:90:%"))
        ).one()
        assert ninety_msg.dedupe_key.endswith(agent.id)  # the assigned person this time

    assert _check(db, warung.id, due - SECOND)["overdue"] == 0
    assert _check(db, warung.id, due)["overdue"] == 0  # due at 09:00:00 is still on time
    assert _check(db, warung.id, due + SECOND)["overdue"] == 1
    assert _check(db, warung.id, due + 2 * SECOND)["overdue"] == 0
    with db.session(warung.id) as s:
        request = rights.get_request(s, request_id)
        assert request.overdue_at == (due + SECOND).astimezone(UTC)
        overdue_events = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "request.overdue")
        )
        assert overdue_events == 1


def test_worker_tick_runs_the_deadline_check(
    db: Any, settings: Any, warung: Any, customer: str
) -> None:
    with db.session(warung.id) as s:
        orgs.create_staff(s, settings, email="dpo@warung.example", role="dpo")
    # Received long enough ago that the whole 72 hours have passed.
    _submit(db, warung.id, customer, "access", datetime.now(UTC) - timedelta(hours=80))
    worker.tick(db)
    assert _reminders(db, warung.id, "overdue") == 1
    assert _reminders(db, warung.id, "90") == 1


def test_list_by_time_left_and_waiting_time_shown(
    client: Any, db: Any, warung: Any, customer: str
) -> None:
    now = datetime.now(UTC)
    erasure = _submit(db, warung.id, customer, "erasure", now - timedelta(hours=1))
    late = _submit(db, warung.id, customer, "access", now - timedelta(hours=75))
    soon = _submit(db, warung.id, customer, "restriction", now - timedelta(hours=70))
    listing = client.get("/api/v1/requests", headers=warung.headers).json()
    assert [r["id"] for r in listing["items"]] == [late, soon, erasure]
    first = listing["items"][0]
    assert first["overdue"] is True and first["time_left_seconds"] < 0
    assert listing["items"][1]["overdue"] is False and 0 < listing["items"][1]["share_used"] < 100
    overdue_only = client.get(
        "/api/v1/requests", params={"overdue": "true"}, headers=warung.headers
    ).json()
    assert [r["id"] for r in overdue_only["items"]] == [late]

    # Asking the requester for something shows the wait but does not move the due time.
    before = client.get(f"/api/v1/requests/{soon}", headers=warung.headers).json()
    client.post(
        f"/api/v1/requests/{soon}/await-requester",
        json={"note": "Mohon kirim nomor pesanan"},
        headers=warung.headers,
    )
    with db.session(warung.id) as s:
        request = rights.get_request(s, soon)
        request.waiting_since = datetime.now(UTC) - timedelta(minutes=30)
    after = client.get(f"/api/v1/requests/{soon}", headers=warung.headers).json()
    assert after["status"] == "awaiting_requester"
    assert after["waiting_seconds"] >= 30 * 60
    assert after["due_at"] == before["due_at"]
    resumed = client.post(f"/api/v1/requests/{soon}/resume", headers=warung.headers).json()
    assert resumed["status"] == "received" and resumed["waiting_seconds"] >= 30 * 60


def test_numbers_are_per_organisation(db: Any, make_org: Any, warung: Any, customer: str) -> None:
    other = make_org("warung-lain")
    publish_warung(db, other.id, other.slug)
    with db.session(other.id) as s:
        subject = rights.subjects.find_or_create(
            s, orgs.system_principal(other.id), {"email": "budi@contoh.example"}
        )
    now = datetime.now(UTC)
    first = _submit(db, warung.id, customer, "access", now)
    second = _submit(db, warung.id, customer, "erasure", now)
    elsewhere = _submit(db, other.id, subject.id, "access", now)
    with db.session(warung.id) as s:
        assert rights.display_number(rights.get_request(s, first)) == "REQ-000001"
        assert rights.get_request(s, "REQ-000002").id == second
        assert rights.get_request(s, "req-2").id == second
    with db.session(other.id) as s:
        assert rights.display_number(rights.get_request(s, elsewhere)) == "REQ-000001"
    with db.session(system=True) as s:
        assert s.get(Organisation, warung.id) is not None
