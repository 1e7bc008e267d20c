"""The requests queue and a request's page: the clock, verification, approval, denial with a
ground, tasks per system, completion, evidence and export downloads, and who may do what."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database, utcnow
from privasi.rights import execution
from privasi.rights import service as rights

NUMBER_RE = re.compile(r">(REQ-\d+)</a>")


def _state(db: Database, shop: Any, request_id: str) -> Any:
    with db.session(shop.org_id) as s:
        found = rights.get_request(s, request_id)
        tasks = {t.system_id: t.status for t in rights.tasks_of(s, found)}
        s.expunge(found)
        return found, tasks


def _task_id(db: Database, shop: Any, request_id: str, system: str) -> str:
    with db.session(shop.org_id) as s:
        found = rights.get_request(s, request_id)
        return next(t.id for t in rights.tasks_of(s, found) if t.system_id == system)


def test_queue_is_sorted_by_time_left_and_filters(
    client: TestClient, signed_in: Any, shop: Any, db: Database
) -> None:
    now = utcnow()
    late = shop.request(db, "access", received_at=now - timedelta(days=4))
    soon = shop.request(db, "erasure", received_at=now - timedelta(days=13, hours=12))
    fresh = shop.request(db, "access")
    signed_in("agent")

    queue = client.get("/admin/requests")
    assert queue.status_code == 200
    order = NUMBER_RE.findall(queue.text)
    numbers = {}
    for rid in (late, soon, fresh):
        found, _ = _state(db, shop, rid)
        numbers[rid] = rights.display_number(found)
    assert order == [numbers[late], numbers[soon], numbers[fresh]]
    # The overdue one says so in words, not only in red.
    row = queue.text.split(numbers[late])[1].split("</tr>")[0]
    assert (
        "clock-overdue" in row and "Terlambat" in row and "lewat 1 hari 0 jam dari tenggat" in row
    )
    soon_row = queue.text.split(numbers[soon])[1].split("</tr>")[0]
    assert "clock-soon" in soon_row and re.search(r"sisa 1[12] jam \d+ menit", soon_row)

    only_erasure = client.get("/admin/requests?type=erasure")
    assert NUMBER_RE.findall(only_erasure.text) == [numbers[soon]]
    overdue = client.get("/admin/requests?overdue=1")
    assert NUMBER_RE.findall(overdue.text) == [numbers[late]]
    assert 'href="/admin/requests?overdue=1"' in client.get("/admin").text
    none_completed = client.get("/admin/requests?status=completed")
    assert NUMBER_RE.findall(none_completed.text) == []
    english = client.get("/admin/requests?lang=en")
    assert "1 d 0 h past due" in english.text and "Requests per week by outcome" in english.text


def test_staff_verify_then_tick_off_the_crm_and_the_request_completes(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("owner")
    detail = client.get(page)
    assert "Verifikasi identitas pemohon" in detail.text
    assert "Tugas disusun setelah identitas pemohon diverifikasi." in detail.text

    empty = pages.post_form(f"{page}/verify", {"note": "  "}, page=page)
    assert empty.status_code == 303
    assert "Tuliskan apa yang Anda periksa" in client.get(page).text
    assert _state(db, shop, rid)[0].verified_at is None

    verified = pages.post_form(
        f"{page}/verify", {"note": "Menelepon dari nomor yang tercatat."}, page=page
    )
    assert verified.status_code == 303
    found, tasks = _state(db, shop, rid)
    assert found.status == "in_progress" and found.verification_method == "staff_review"
    assert tasks == {"privasi": "pending", "crm": "pending"}
    detail = client.get(page)
    assert "CRM Pelanggan" in detail.text and "Selesai di CRM Pelanggan" in detail.text

    execution.run_tasks(db, rid)  # what the worker does
    crm = _task_id(db, shop, rid, "crm")
    skipped_without_note = pages.post_form(
        f"{page}/tasks/{crm}", {"status": "skipped", "note": ""}, page=page
    )
    assert skipped_without_note.status_code == 303
    assert _state(db, shop, rid)[1]["crm"] == "pending"

    done = pages.post_form(
        f"{page}/tasks/{crm}", {"status": "done", "note": "Data pelanggan dicari."}, page=page
    )
    assert done.status_code == 303
    found, tasks = _state(db, shop, rid)
    assert tasks == {"privasi": "done", "crm": "done"}
    assert found.status == "completed"
    final = client.get(page)
    assert "Permintaan sudah selesai." in final.text
    assert "Data pelanggan dicari." in final.text

    evidence = client.get(f"{page}/evidence.json")
    assert evidence.status_code == 200
    assert "attachment" in evidence.headers["content-disposition"]
    record = json.loads(evidence.content)
    assert record["request"]["verification_method"] == "staff_review"
    assert {e["action"] for e in record["timeline"]} >= {"request.verified", "request.completed"}

    exported = client.get(f"{page}/export.zip")
    assert exported.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "data.json" in names


def test_complete_button_closes_a_request_whose_tasks_are_finished(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("dpo")
    pages.post_form(f"{page}/verify", {"note": "KTP dicocokkan di toko."}, page=page)
    # Tasks finished without the automatic close (a worker stopped half-way, say).
    with db.session(shop.org_id) as s:
        found = rights.get_request(s, rid)
        for task in rights.tasks_of(s, found):
            task.status = "done"
    early = client.get(page)
    assert "Selesaikan permintaan" in early.text
    answer = pages.post_form(f"{page}/complete", {}, page=page)
    assert answer.status_code == 303
    assert _state(db, shop, rid)[0].status == "completed"


def test_rectification_is_approved_after_review_and_an_agent_cannot_approve(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(
        db, "rectification", details={"changes": {"email": "sari.baru@contoh.example"}}
    )
    page = f"/admin/requests/{rid}"
    signed_in("dpo")
    pages.post_form(f"{page}/verify", {"note": "Dicek lewat telepon."}, page=page)
    review = client.get(page)
    assert "sari.baru@contoh.example" in review.text  # requested value beside the one on record
    assert "sari.wulandari@contoh.example" in review.text

    agent = signed_in("agent")
    assert agent.role == "agent"
    as_agent = client.get(page)
    assert "Setujui perbaikan" not in as_agent.text
    csrf = pages.csrf(as_agent)
    refused = client.post(f"{page}/approve", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert _state(db, shop, rid)[0].approved_at is None
    denied = client.post(
        f"{page}/deny", data={"csrf_token": csrf, "ground": "identity_not_verified", "note": "x"}
    )
    assert denied.status_code == 403

    signed_in("dpo")
    approved = pages.post_form(f"{page}/approve", {}, page=page)
    assert approved.status_code == 303
    assert _state(db, shop, rid)[0].approved_at is not None
    assert "Perbaikan sudah disetujui" in client.get(page).text


def test_deny_with_a_ground(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database, outbox: Any
) -> None:
    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("owner")
    missing = pages.post_form(f"{page}/deny", {"ground": "", "note": "tidak jelas"}, page=page)
    assert missing.status_code == 303
    assert _state(db, shop, rid)[0].status == "received"

    answer = pages.post_form(
        f"{page}/deny",
        {"ground": "identity_not_verified", "note": "Nomor telepon tidak cocok."},
        page=page,
    )
    assert answer.status_code == 303
    found, _ = _state(db, shop, rid)
    assert found.status == "denied" and found.denial_ground == "identity_not_verified"
    after = client.get(page)
    assert "Identitas pemohon tidak dapat diverifikasi" in after.text
    assert "Tolak permintaan" not in after.text  # nothing left to refuse
    assert any(m.template == "rights_denied" for m in outbox(shop.org_id))

    # A step on a closed request is refused with a message, not an error page.
    again = pages.post_form(f"{page}/verify", {"note": "coba lagi"}, page=page)
    assert again.status_code == 303
    assert (
        "tidak bisa dilakukan" in client.get(page).text or "bertentangan" in client.get(page).text
    )


def test_code_verification_through_the_page(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database, outbox: Any
) -> None:
    from privasi.consent.channels.models import VerificationChallenge

    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("agent")
    sent = pages.post_form(f"{page}/code", {"channel": "email"}, page=page)
    assert sent.status_code == 303
    assert _state(db, shop, rid)[0].status == "verifying"
    assert any(m.template == "verification_code" for m in outbox(shop.org_id))

    wrong = pages.post_form(f"{page}/code/check", {"code": "000000"}, page=page)
    assert wrong.status_code == 303
    assert "Kode itu salah" in client.get(page).text
    with db.session(shop.org_id) as s:
        challenge = s.get(VerificationChallenge, _state(db, shop, rid)[0].challenge_id)
        assert challenge is not None and challenge.attempts == 1  # the wrong try was kept


def test_auditor_reads_but_changes_nothing_and_csrf_is_required(
    client: TestClient, pages: Any, signed_in: Any, shop: Any, db: Database
) -> None:
    rid = shop.request(db, "access")
    page = f"/admin/requests/{rid}"
    signed_in("auditor")
    detail = client.get(page)
    assert detail.status_code == 200
    assert '<form method="post" action="/admin/requests/' not in detail.text
    assert client.get(f"{page}/evidence.json").status_code == 200
    assert client.get(f"{page}/export.zip").status_code == 403  # personal data
    assert client.get("/admin/subjects").status_code == 403
    csrf = pages.csrf(detail)
    assert client.post(f"{page}/verify", data={"csrf_token": csrf, "note": "x"}).status_code == 403

    signed_in("owner")
    for path, data in [
        (f"{page}/verify", {"note": "tanpa token"}),
        (f"{page}/deny", {"ground": "identity_not_verified", "note": "tanpa token"}),
        (f"{page}/complete", {}),
        (f"{page}/code", {"channel": "email"}),
    ]:
        assert client.post(path, data=data).status_code == 403, path
    assert _state(db, shop, rid)[0].status == "received"


def test_unknown_request_is_a_page_not_found(client: TestClient, signed_in: Any, shop: Any) -> None:
    signed_in("owner")
    answer = client.get("/admin/requests/REQ-999999")
    assert answer.status_code == 404
    assert "Tidak ditemukan" in answer.text
