"""Legal holds: placed on a subject, a category or a system with reason and owner; they keep data
from retention and from erasure, and say so where they block something."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import privasi.connectors.sql  # noqa: F401  (registers the sql executor for erasure tasks)
from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.jobs.models import Job
from privasi.retention import holds
from privasi.retention import service as retention
from privasi.rights import execution
from privasi.rights import service as rights
from privasi.rights.models import RequestTask
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

from .conftest import T0, naive, principal


def _erasure(db: Any, org_id: str, subject_id: str) -> str:
    with db.session(org_id) as s:
        p = principal(org_id)
        request = rights.submit(s, p, type="erasure", channel="email", subject_id=subject_id)
        rights.mark_verified(s, p, request, "staff_review", "dicek oleh staf")
        return request.id


def test_a_subject_hold_stops_erasure_with_its_reason_until_released(
    db: Any, business: Any
) -> None:
    biz = business("aspire")
    org = biz.org_id
    with db.session(org) as s:
        subject_id = subjects.find_or_create(s, principal(org), {"email": "dita@contoh.example"}).id
        hold = holds.place(
            s,
            principal(org),
            scope="subject",
            target=subject_id,
            reason="Perkara perdata no. 12/2026",
            owner="Tim Hukum",
        )
        hold_id = hold.id
    request_id = _erasure(db, org, subject_id)

    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    with db.session(org) as s:
        tasks = list(s.scalars(select(RequestTask).where(RequestTask.request_id == request_id)))
        held = [t for t in tasks if t.status == "waiting"]
        assert held and all(
            t.result["held"][0]["reason"] == "Perkara perdata no. 12/2026" for t in held
        )
        assert not vault_for(s).is_shredded(org, subject_id)
        shown = retention.blocking_holds(s, subject_id=subject_id)
        assert [(h.id, h.owner) for h in shown] == [(hold_id, "Tim Hukum")]

        holds.release(s, principal(org), holds.get(s, hold_id), "perkara selesai")
        queued = s.scalar(select(Job).where(Job.dedupe_key.like(f"%{request_id}:hold-released%")))
        assert queued is not None
    execution.run_tasks(db, request_id)
    with db.session(org) as s:
        assert rights.get_request(s, request_id).status == "completed"
        assert vault_for(s).is_shredded(org, subject_id)


def test_category_and_system_holds_leave_the_tables_they_cover(db: Any, business: Any) -> None:
    biz = business("aspire")
    org = biz.org_id
    old = naive(T0 - timedelta(days=365 * 6))
    biz.insert(
        "core",
        "cards",
        [{"id": 1, "user_email": "a@contoh.example", "card_last4": "1234", "closed_at": old}],
    )
    biz.insert(
        "core",
        "users",
        [{"id": 1, "email": "a@contoh.example", "full_name": "A", "closed_at": old}],
    )
    with db.session(org) as s:
        cat = holds.place(
            s,
            principal(org),
            scope="category",
            target="financial",
            reason="Audit pajak 2026",
            owner="Keuangan",
        )
        cat_id = cat.id
        plan = {p.rule_id: p for p in retention.plan(s, T0)}
    skipped = {
        (k.table and k.table.rpartition(".")[2], k.reason) for k in plan["user_data"].skipped
    }
    assert ("cards", "legal_hold") in skipped
    retention.run_rule(db, org, "user_data", now=T0, owner="test")
    assert len(biz.rows("core", "cards")) == 1 and biz.rows("core", "users") == []

    with db.session(org) as s:
        holds.release(s, principal(org), holds.get(s, cat_id))
        holds.place(
            s, principal(org), scope="system", target="core", reason="Migrasi server", owner="TI"
        )
    retention.run_rule(db, org, "user_data", now=T0, owner="test")
    assert len(biz.rows("core", "cards")) == 1  # the system hold keeps it now


def test_a_subject_hold_keeps_that_persons_rows_in_business_tables(db: Any, business: Any) -> None:
    biz = business("aspire")
    org = biz.org_id
    old = naive(T0 - timedelta(days=365 * 6))
    biz.insert(
        "core",
        "users",
        [
            {"id": 1, "email": "ditahan@contoh.example", "full_name": "D", "closed_at": old},
            {"id": 2, "email": "lain@contoh.example", "full_name": "L", "closed_at": old},
        ],
    )
    with db.session(org) as s:
        subject_id = subjects.find_or_create(
            s, principal(org), {"email": "ditahan@contoh.example"}
        ).id
        holds.place(
            s,
            principal(org),
            scope="subject",
            target=subject_id,
            reason="Penyidikan",
            owner="Legal",
        )
        plan = {p.rule_id: p for p in retention.plan(s, T0)}
    users = next(i for i in plan["user_data"].items if (i.table or "").endswith("users"))
    assert (users.due, users.held) == (1, 1)
    retention.run_rule(db, org, "user_data", now=T0, owner="test")
    assert [r["id"] for r in biz.rows("core", "users")] == [1]


def test_holds_are_validated_and_released_once(db: Any, business: Any) -> None:
    biz = business("cybernet")
    org = biz.org_id
    with db.session(org) as s:
        p = principal(org)
        with pytest.raises(ValidationFailed):
            holds.place(s, p, scope="category", target="tidak_ada", reason="x", owner="y")
        with pytest.raises(ValidationFailed):
            holds.place(s, p, scope="system", target="billing", reason=" ", owner="y")
        with pytest.raises(NotFound):
            holds.place(
                s,
                p,
                scope="subject",
                target="00000000-0000-0000-0000-000000000000",
                reason="x",
                owner="y",
            )
        hold = holds.place(s, p, scope="system", target="billing", reason="Audit", owner="DPO")
        holds.release(s, p, hold)
        with pytest.raises(InvalidTransition):
            holds.release(s, p, hold)
        summary = retention.dashboard_summary(s, T0.replace(year=2030))
        assert summary.active_holds == []
