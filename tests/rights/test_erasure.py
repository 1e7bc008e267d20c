"""Erasure survives a process that stops half-way: the retry resumes and does nothing twice.
Also the cancellation window before anything irreversible runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from privasi.audit.models import AuditEvent
from privasi.consent import service as consent
from privasi.consent.models import ConsentEvent
from privasi.errors import ValidationFailed
from privasi.notify.models import OutboxMessage
from privasi.orgs import service as orgs
from privasi.rights import actions, execution, lifecycle
from privasi.rights import service as rights
from privasi.rights.models import RequestTask, Suppression
from privasi.subjects import service as subjects
from privasi.vault.core import Vault
from privasi.vault.service import vault_for

from .conftest import EMAIL


class Crash(RuntimeError):
    """Stands for the process dying at this point."""


def _verified_erasure(db: Any, org_id: str, subject_id: str) -> str:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id, "test")
        request = rights.submit(
            s, principal, type="erasure", channel="email", subject_id=subject_id
        )
        rights.mark_verified(s, principal, request, "staff_review", "balasan dari alamat terdaftar")
        # Before privasi shreds the key, staff deal with the CRM (they still need the address).
        crm = next(t for t in rights.tasks_of(s, request) if t.system_id == "crm")
        execution.complete_task(s, principal, request, crm.id, note="dihapus di CRM")
        return request.id


def _count(db: Any, org_id: str, model: Any, *where: Any) -> int:
    with db.session(org_id) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _task(db: Any, org_id: str, request_id: str) -> RequestTask:
    with db.session(org_id) as s:
        return s.scalars(
            select(RequestTask).where(
                RequestTask.request_id == request_id, RequestTask.kind == "privasi"
            )
        ).one()


def _assert_done_once(db: Any, org_id: str, subject_id: str) -> None:
    for action in ("subject.erased", "subject.shredded"):
        assert _count(db, org_id, AuditEvent, AuditEvent.action == action) == 1, action
    withdrawn = _count(
        db,
        org_id,
        ConsentEvent,
        ConsentEvent.subject_id == subject_id,
        ConsentEvent.action == "withdrawn",
    )
    assert withdrawn == 1
    assert _count(db, org_id, Suppression) == 2  # e-mail and phone
    assert _count(db, org_id, OutboxMessage, OutboxMessage.template == "rights_erasure_done") == 1
    with db.session(org_id) as s:
        assert vault_for(s).is_shredded(org_id, subject_id)
        sari = subjects.get_subject(s, subject_id)
        assert sari.state == "erased" and subjects.identifiers(s, sari) == {}
        assert actions.is_suppressed(s, "email", EMAIL)


def test_stop_between_the_database_steps_and_the_shred(
    db: Any, warung: Any, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = _verified_erasure(db, warung.id, customer)
    real_shred = Vault.shred

    def dies(*args: Any, **kwargs: Any) -> bool:
        raise Crash()

    monkeypatch.setattr(Vault, "shred", dies)
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    task = _task(db, warung.id, request_id)
    assert task.status == "failed" and task.result["steps"] == ["delete"]
    with db.session(warung.id) as s:
        assert not vault_for(s).is_shredded(warung.id, customer)
        assert subjects.find_by_identifier(s, "email", EMAIL) is None  # already committed

    monkeypatch.setattr(Vault, "shred", real_shred)
    statuses = execution.run_tasks(db, request_id)
    assert statuses == {"privasi": "done", "crm": "done"}
    assert _task(db, warung.id, request_id).result["steps"] == ["delete", "shred"]
    _assert_done_once(db, warung.id, customer)
    # Running again (a duplicate job) changes nothing.
    execution.run_tasks(db, request_id)
    _assert_done_once(db, warung.id, customer)


def test_stop_in_the_middle_of_the_database_steps(
    db: Any, warung: Any, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = _verified_erasure(db, warung.id, customer)
    real_withdraw = consent.withdraw

    def withdraw_then_die(*args: Any, **kwargs: Any) -> Any:
        real_withdraw(*args, **kwargs)
        raise Crash()

    monkeypatch.setattr(consent, "withdraw", withdraw_then_die)
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    # Nothing of the half-done transaction remains.
    assert _count(db, warung.id, Suppression) == 0
    with db.session(warung.id) as s:
        assert subjects.find_by_identifier(s, "email", EMAIL) is not None
        assert consent.check(s, [customer], "newsletter")[0].allowed

    monkeypatch.setattr(consent, "withdraw", real_withdraw)
    execution.run_tasks(db, request_id)
    _assert_done_once(db, warung.id, customer)


def test_stop_after_the_shred_before_it_was_recorded(
    db: Any, warung: Any, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = _verified_erasure(db, warung.id, customer)
    real_done = actions._done

    def record_or_die(session: Any, task: Any, step: str, **extra: Any) -> None:
        if step == "shred":
            raise Crash()
        real_done(session, task, step, **extra)

    monkeypatch.setattr(actions, "_done", record_or_die)
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    with db.session(warung.id) as s:
        assert vault_for(s).is_shredded(warung.id, customer)
    monkeypatch.setattr(actions, "_done", real_done)
    execution.run_tasks(db, request_id)
    _assert_done_once(db, warung.id, customer)


def test_through_the_worker_a_failed_job_is_retried(
    db: Any, warung: Any, customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from privasi import worker
    from privasi.jobs.models import Job

    _verified_erasure(db, warung.id, customer)
    real_shred = Vault.shred
    monkeypatch.setattr(Vault, "shred", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    assert worker.tick(db)["retry"] >= 1
    monkeypatch.setattr(Vault, "shred", real_shred)
    with db.session(system=True) as s:
        waiting = list(s.scalars(select(Job).where(Job.kind == execution.EXECUTE_KIND)))
        assert waiting and all(job.state == "pending" for job in waiting)
        for job in waiting:
            job.due_at = job.due_at - timedelta(hours=2)  # the backoff has passed
    worker.tick(db)
    with db.session(system=True) as s:
        states = s.scalars(select(Job.state).where(Job.kind == execution.EXECUTE_KIND))
        assert set(states) == {"done"}
    _assert_done_once(db, warung.id, customer)


def test_cancellation_window_holds_back_irreversible_steps(
    db: Any, warung: Any, customer: str
) -> None:
    with db.session(warung.id) as s:
        vault_for(s)._settings = vault_for(s)._settings.model_copy(
            update={"rights_erasure_cancel_hours": 24}
        )
    request_id = _verified_erasure(db, warung.id, customer)
    statuses = execution.run_tasks(db, request_id)
    assert statuses["privasi"] == "pending"
    with db.session(warung.id) as s:
        request = rights.get_request(s, request_id)
        assert request.not_before is not None
        assert request.not_before - request.verified_at == timedelta(hours=24)
        with pytest.raises(ValidationFailed, match="why it is cancelled"):
            lifecycle.cancel(s, orgs.system_principal(warung.id), request, "   ")
        assert request.status != "cancelled"
        lifecycle.cancel(s, orgs.system_principal(warung.id), request, "Pelanggan berubah pikiran")
        assert request.status == "cancelled"
        assert subjects.find_by_identifier(s, "email", EMAIL) is not None
    assert execution.run_tasks(db, request_id)["privasi"] == "skipped"
    with db.session(warung.id) as s:
        assert not vault_for(s).is_shredded(warung.id, customer)


def test_privasi_waits_for_the_other_systems(db: Any, warung: Any, customer: str) -> None:
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "test")
        request = rights.submit(s, principal, type="erasure", channel="api", subject_id=customer)
        rights.mark_verified(s, principal, request, "staff_review", "KTP diperiksa")
    assert execution.run_tasks(db, request.id) == {"privasi": "pending", "crm": "pending"}
    with db.session(warung.id) as s:
        assert subjects.find_by_identifier(s, "email", EMAIL) is not None
        crm = next(t for t in rights.tasks_of(s, request) if t.system_id == "crm")
        execution.complete_task(s, principal, rights.get_request(s, request.id), crm.id)
    assert execution.run_tasks(db, request.id) == {"privasi": "done", "crm": "done"}
    with db.session(warung.id) as s:
        done = rights.get_request(s, request.id)
        assert done.status == "completed"
        assert sorted(k["categories"] for k in done.outcome["kept"]) == [
            ["consent_records", "audit_trail"],
            ["invoices"],
        ]


def test_erased_request_cannot_be_cancelled_or_denied(db: Any, warung: Any, customer: str) -> None:
    request_id = _verified_erasure(db, warung.id, customer)
    execution.run_tasks(db, request_id)
    with db.session(warung.id) as s:
        request = rights.get_request(s, request_id)
        principal = orgs.system_principal(warung.id)
        with pytest.raises(rights.InvalidTransition):
            lifecycle.cancel(s, principal, request, "terlambat")
        with pytest.raises(rights.InvalidTransition):
            rights.deny(s, principal, request, "pasal_15_exception", "tidak berlaku")
