"""The full life cycle of every request type through the API: intake, the code to the address on
record, execution in privasi's store, the CRM checklist task, completion and the evidence."""

from __future__ import annotations

from typing import Any

import pytest

from privasi import worker
from privasi.consent import service as consent
from privasi.errors import InvalidTransition, ValidationFailed
from privasi.notify import service as notify
from privasi.rights import service as rights
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

from .conftest import EMAIL


def _code(db: Any, org_id: str) -> str:
    from sqlalchemy import select

    from privasi.notify.models import OutboxMessage

    with db.session(org_id) as s:
        message = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "verification_code")
            .order_by(OutboxMessage.created_at.desc())
        ).first()
        assert message is not None
        return str(notify.open_payload(vault_for(s), message)["params"]["code"])


def _submit(client: Any, org: Any, type_: str, **body: Any) -> dict[str, Any]:
    payload = {"type": type_, "identifiers": {"email": EMAIL}, **body}
    response = client.post("/api/v1/requests", json=payload, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _verify_by_code(client: Any, db: Any, org: Any, request_id: str) -> dict[str, Any]:
    sent = client.post(
        f"/api/v1/requests/{request_id}/verification/code", json={}, headers=org.headers
    )
    assert sent.status_code == 200, sent.text
    wrong = client.post(
        f"/api/v1/requests/{request_id}/verification/code/check",
        json={"code": "000000" if _code(db, org.id) != "000000" else "111111"},
        headers=org.headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("verification-code-incorrect")
    checked = client.post(
        f"/api/v1/requests/{request_id}/verification/code/check",
        json={"code": _code(db, org.id)},
        headers=org.headers,
    )
    assert checked.status_code == 200, checked.text
    return dict(checked.json())


def _finish_crm(client: Any, org: Any, detail: dict[str, Any], **body: Any) -> dict[str, Any]:
    crm = next(t for t in detail["tasks"] if t["system_id"] == "crm")
    assert crm["kind"] == "manual" and crm["status"] == "pending"
    response = client.post(
        f"/api/v1/requests/{detail['id']}/tasks/{crm['id']}/complete",
        json={"note": "dikerjakan di CRM", **body},
        headers=org.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _get(client: Any, org: Any, request_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/requests/{request_id}", headers=org.headers)
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(
    ("type_", "details"),
    [
        ("access", None),
        ("portability", None),
        ("restriction", None),
        ("objection", {"purposes": ["newsletter"]}),
        ("withdraw_consent", None),
        ("automated_decision_objection", None),
    ],
)
def test_request_types_run_end_to_end(
    client: Any, db: Any, warung: Any, customer: str, type_: str, details: Any
) -> None:
    created = _submit(client, warung, type_, details=details)
    assert created["number"] == "REQ-000001"
    assert created["status"] == "received" and created["subject_id"] == customer
    assert created["status_token"]

    verified = _verify_by_code(client, db, warung, created["id"])
    assert verified["status"] == "in_progress"
    assert verified["verification_method"] == "email_code"
    assert {t["system_id"] for t in verified["tasks"]} == {"privasi", "crm"}

    worker.tick(db)
    detail = _get(client, warung, created["id"])
    privasi_task = next(t for t in detail["tasks"] if t["system_id"] == "privasi")
    assert privasi_task["status"] == "done"
    assert detail["status"] == "in_progress"  # the CRM checklist item is still open

    done = _finish_crm(client, warung, detail)
    assert done["status"] == "completed"
    assert done["outcome"]["on_time"] is True
    crm_done = next(t for t in done["tasks"] if t["system_id"] == "crm")
    assert crm_done["note"] == "dikerjakan di CRM" and crm_done["completed_by"].startswith(
        "api_key:"
    )

    with db.session(warung.id) as s:
        sari = subjects.get_subject(s, customer)
        newsletter = consent.check(s, [customer], "newsletter")[0]
        if type_ == "restriction":
            assert sari.restricted and not newsletter.allowed
            assert newsletter.reason == "restricted"
        elif type_ == "objection":
            assert sari.objections == ["newsletter"] and not newsletter.allowed
        elif type_ == "withdraw_consent":
            assert newsletter.reason == "withdrawn"
        elif type_ == "automated_decision_objection":
            assert sari.objections == ["credit_scoring"]
            assert newsletter.allowed
        else:
            assert privasi_task["result"]["identifier_kinds"] == ["email", "phone"]

    evidence = client.get(f"/api/v1/requests/{created['id']}/evidence", headers=warung.headers)
    actions = [e["action"] for e in evidence.json()["timeline"]]
    for step in ("request.received", "identity.code_sent", "request.verified", "request.planned"):
        assert step in actions
    assert actions[0] == "request.received" and actions[-1] == "request.completed"
    assert EMAIL not in evidence.text


def test_erasure_end_to_end_keeps_invoices_and_suppresses(
    client: Any, db: Any, settings: Any, warung: Any, customer: str, outbox: Any
) -> None:
    created = _submit(client, warung, "erasure", lang="en")
    verified = _verify_by_code(client, db, warung, created["id"])
    crm = next(t for t in verified["tasks"] if t["system_id"] == "crm")
    assert crm["result"]["keep"][0]["categories"] == ["invoices"]
    assert crm["result"]["keep"][0]["period"] == "P10Y"

    worker.tick(db)
    detail = _get(client, warung, created["id"])
    # privasi keeps the address until the CRM is dealt with, then erases and shreds.
    assert {t["system_id"]: t["status"] for t in detail["tasks"]} == {
        "privasi": "pending",
        "crm": "pending",
    }
    assert _finish_crm(client, warung, detail)["status"] == "in_progress"
    worker.tick(db)
    done = _get(client, warung, created["id"])
    assert done["status"] == "completed"
    kept = done["outcome"]["kept"]
    assert {tuple(k["categories"]) for k in kept} >= {("invoices",)}
    invoices = next(k for k in kept if k["categories"] == ["invoices"])
    assert invoices["reason"]["en"].startswith("Tax law requires")

    with db.session(warung.id) as s:
        sari = subjects.get_subject(s, customer)
        assert sari.state == "erased"
        assert subjects.identifiers(s, sari) == {}
        assert subjects.find_by_identifier(s, "email", EMAIL) is None
        assert not consent.check(s, [customer], "newsletter")[0].allowed
    check = client.post(
        "/api/v1/requests/suppression-check",
        json={"kind": "email", "value": EMAIL.upper()},
        headers=warung.headers,
    )
    assert check.json() == {"suppressed": True}
    other = client.post(
        "/api/v1/requests/suppression-check",
        json={"kind": "email", "value": "orang.lain@contoh.example"},
        headers=warung.headers,
    )
    assert other.json() == {"suppressed": False}
    templates = [m.template for m in outbox(warung.id)]
    assert "rights_erasure_done" in templates
    assert templates.count("rights_completed") == 0
    import mailbox

    [mail] = [
        m
        for m in mailbox.Maildir(settings.data_dir / "mail")
        if m["Subject"].startswith("Your data has been erased")
    ]
    assert mail["To"] == EMAIL
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "invoices: Tax law requires invoices to be kept for 10 years." in text
    assert "(kept 10 years from the end of the contract)" in text


def test_rectification_waits_for_review_then_applies_and_tells_recipients(
    client: Any, db: Any, warung: Any, customer: str
) -> None:
    new_email = "sari.w@contoh.example"
    created = _submit(
        client,
        warung,
        "rectification",
        details={"changes": {"email": new_email, "address": "Jl. Melati 5, Bandung"}},
    )
    _verify_by_code(client, db, warung, created["id"])
    worker.tick(db)
    detail = _get(client, warung, created["id"])
    assert all(t["status"] == "pending" for t in detail["tasks"])  # nothing before the review

    diff = client.get(f"/api/v1/requests/{created['id']}/diff", headers=warung.headers).json()
    email_line = next(line for line in diff if line["field"] == "email")
    assert email_line["current"] == [EMAIL] and email_line["requested"] == new_email
    assert email_line["applied_in_privasi"] is True
    address_line = next(line for line in diff if line["field"] == "address")
    assert address_line["applied_in_privasi"] is False and address_line["other_systems"] == ["crm"]

    approved = client.post(f"/api/v1/requests/{created['id']}/approve", headers=warung.headers)
    assert approved.status_code == 200
    worker.tick(db)
    detail = _get(client, warung, created["id"])
    by_system = {t["system_id"]: t for t in detail["tasks"]}
    assert by_system["privasi"]["result"]["applied"] == ["email"]
    assert by_system["privasi"]["result"]["elsewhere"] == ["address"]
    # No contact stored for the courier: telling it becomes a checklist item.
    assert by_system["recipients"]["result"]["manual"] == ["kurir"]
    assert by_system["recipient:kurir"]["status"] == "pending"
    with db.session(warung.id) as s:
        assert subjects.identifiers(s, subjects.get_subject(s, customer))["email"] == [new_email]

    _finish_crm(client, warung, detail)
    task = by_system["recipient:kurir"]
    final = client.post(
        f"/api/v1/requests/{created['id']}/tasks/{task['id']}/complete",
        json={"note": "dikirim lewat e-mail"},
        headers=warung.headers,
    ).json()
    assert final["status"] == "completed"


def test_recipient_with_a_stored_contact_is_told_through_the_outbox(
    client: Any, db: Any, settings: Any, warung: Any, customer: str, outbox: Any
) -> None:
    import mailbox

    from privasi.orgs.service import system_principal
    from privasi.vault.service import set_secret

    with db.session(warung.id) as s:
        set_secret(s, system_principal(warung.id), "recipient.kurir.contact", "dpo@kurir.example")
    created = _submit(
        client, warung, "rectification", details={"changes": {"phone": "+6281234567002"}}
    )
    _verify_by_code(client, db, warung, created["id"])
    client.post(f"/api/v1/requests/{created['id']}/approve", headers=warung.headers)
    worker.tick(db)
    detail = _get(client, warung, created["id"])
    recipients = next(t for t in detail["tasks"] if t["system_id"] == "recipients")
    assert recipients["result"]["notified"] == ["kurir"]
    messages = [m for m in outbox(warung.id) if m.template == "rights_rectification_recipient"]
    assert len(messages) == 1 and messages[0].status == "sent"
    mails = [
        m for m in mailbox.Maildir(settings.data_dir / "mail") if m["To"] == "dpo@kurir.example"
    ]
    assert len(mails) == 1
    text = mails[0].get_payload()[0].get_payload(decode=True).decode()
    assert "+6281234567002" in text and "REQ-000001" in text


def test_denial_records_the_ground_and_tells_the_requester(
    client: Any, db: Any, warung: Any, customer: str, outbox: Any
) -> None:
    created = _submit(client, warung, "access")
    denied = client.post(
        f"/api/v1/requests/{created['id']}/deny",
        json={"ground": "pasal_33_other_person", "note": "Data berisi percakapan orang lain."},
        headers=warung.headers,
    )
    assert denied.status_code == 200
    assert denied.json()["status"] == "denied"
    assert denied.json()["denial_ground"] == "pasal_33_other_person"
    assert denied.json()["denial_note"] == "Data berisi percakapan orang lain."
    assert "rights_denied" in [m.template for m in outbox(warung.id)]
    again = client.post(
        f"/api/v1/requests/{created['id']}/verification/staff",
        json={"note": "KTP"},
        headers=warung.headers,
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("rights-request-denied")


def test_agent_cannot_deny_or_verify_by_hand(
    client: Any, db: Any, make_org: Any, warung: Any, customer: str
) -> None:
    from privasi.orgs import service as orgs

    with db.session(warung.id) as s:
        _, token = orgs.create_api_key(
            s, name="helpdesk", scopes=["requests.read", "requests.manage"]
        )
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/requests", json={"type": "access", "subject_id": customer}, headers=headers
    ).json()
    for path, body in (
        ("deny", {"ground": "identity_not_verified", "note": "x"}),
        ("verification/staff", {"note": "x"}),
    ):
        response = client.post(
            f"/api/v1/requests/{created['id']}/{path}", json=body, headers=headers
        )
        assert response.status_code == 403


def test_unknown_identifier_is_recorded_then_matched(
    client: Any, db: Any, warung: Any, customer: str
) -> None:
    created = client.post(
        "/api/v1/requests",
        json={"type": "access", "identifiers": {"email": "belum.dikenal@contoh.example"}},
        headers=warung.headers,
    ).json()
    assert created["subject_id"] is None
    refused = client.post(
        f"/api/v1/requests/{created['id']}/verification/code", json={}, headers=warung.headers
    )
    assert refused.status_code == 409
    matched = client.post(
        f"/api/v1/requests/{created['id']}/match",
        json={"subject_id": customer},
        headers=warung.headers,
    )
    assert matched.json()["subject_id"] == customer


def test_guardian_request_needs_a_note_and_idempotency_key_replays(
    client: Any, db: Any, warung: Any, customer: str
) -> None:
    missing = client.post(
        "/api/v1/requests",
        json={"type": "access", "subject_id": customer, "requester_kind": "guardian"},
        headers=warung.headers,
    )
    assert missing.status_code == 422
    body = {
        "type": "access",
        "subject_id": customer,
        "requester_kind": "guardian",
        "requester_note": "Ibu kandung; akta kelahiran diperiksa",
    }
    headers = {**warung.headers, "Idempotency-Key": "req-1"}
    first = client.post("/api/v1/requests", json=body, headers=headers)
    second = client.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listing = client.get("/api/v1/requests", headers=warung.headers).json()
    assert len(listing["items"]) == 1
    detail = client.get(f"/api/v1/requests/{first.json()['id']}", headers=warung.headers).json()
    assert detail["requester_note"] == "Ibu kandung; akta kelahiran diperiksa"
    with db.session(warung.id) as s:
        stored = rights.get_request(s, detail["id"])
        assert stored.requester_note is None and "Ibu" not in (stored.details_enc or "")


def test_a_failed_task_is_shown_and_can_be_retried(
    client: Any, db: Any, warung: Any, customer: str
) -> None:
    from privasi.orgs.service import system_principal

    taken = "dipakai.orang.lain@contoh.example"
    with db.session(warung.id) as s:
        other = subjects.find_or_create(s, system_principal(warung.id), {"email": taken})
    created = _submit(client, warung, "rectification", details={"changes": {"email": taken}})
    client.post(
        f"/api/v1/requests/{created['id']}/verification/staff",
        json={"note": "Dicocokkan dengan data pesanan"},
        headers=warung.headers,
    )
    client.post(f"/api/v1/requests/{created['id']}/approve", headers=warung.headers)
    worker.tick(db)
    detail = _get(client, warung, created["id"])
    task = next(t for t in detail["tasks"] if t["system_id"] == "privasi")
    assert task["status"] == "failed" and task["result"]["error"] == "SubjectsConflict"
    assert taken not in str(task["result"])

    # Staff find the other record was a typo of their own and remove the stray address.
    from privasi.subjects.models import SubjectIdentifier

    with db.session(warung.id) as s:
        s.query(SubjectIdentifier).filter(SubjectIdentifier.subject_id == other.id).delete()
    retried = client.post(f"/api/v1/requests/{created['id']}/retry", headers=warung.headers)
    assert retried.status_code == 200
    worker.tick(db)
    detail = _get(client, warung, created["id"])
    task = next(t for t in detail["tasks"] if t["system_id"] == "privasi")
    assert task["status"] == "done" and task["attempts"] >= 2
    with db.session(warung.id) as s:
        assert subjects.identifiers(s, subjects.get_subject(s, customer))["email"] == [taken]


def test_a_failed_automatic_task_can_be_done_by_hand_with_a_note(db, warung, customer):
    """A connector that cannot run (no credential stored) must not block the deadline."""
    from privasi.orgs import service as orgs
    from privasi.rights import execution
    from privasi.rights.models import RequestTask

    principal = orgs.system_principal(warung.id)
    with db.session(warung.id) as s:
        request = rights.submit(s, principal, type="access", channel="api", subject_id=customer)
        rights.mark_verified(s, principal, request, "staff_review", "checked")
        task = RequestTask(
            request_id=request.id, system_id="legacy", kind="sql", action="access", status="pending"
        )
        s.add(task)
        s.flush()
        task_id, request_id = task.id, request.id

    def boom(session, request, task):
        raise RuntimeError("no credential")

    previous = execution.EXECUTORS.get("sql")
    execution.EXECUTORS["sql"] = boom
    try:
        with db.session(warung.id) as s:
            request = rights.get_request(s, request_id)
            with pytest.raises(InvalidTransition):  # still pending: it runs by itself
                execution.complete_task(s, principal, request, task_id, note="x")
        assert execution._run_one(db, warung.id, request_id, task_id) is False
        with db.session(warung.id) as s:
            request = rights.get_request(s, request_id)
            with pytest.raises(ValidationFailed):
                execution.complete_task(s, principal, request, task_id)
            done = execution.complete_task(s, principal, request, task_id, note="exported by hand")
            assert done.status == "done"
    finally:
        if previous is None:
            execution.EXECUTORS.pop("sql", None)
        else:
            execution.EXECUTORS["sql"] = previous
