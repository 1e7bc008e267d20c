"""`privasi requests list|show|evidence`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from typer.testing import CliRunner

from privasi.orgs import service as orgs
from privasi.rights import execution
from privasi.rights import service as rights
from privasi.rights.cli import app

from .conftest import EMAIL


def _env(settings: Any) -> dict[str, str]:
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_list_show_and_evidence(settings: Any, db: Any, warung: Any, customer: str) -> None:
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id, "test")
        late = rights.submit(
            s,
            principal,
            type="access",
            channel="email",
            subject_id=customer,
            received_at=datetime.now(UTC) - timedelta(hours=80),
        )
        erasure = rights.submit(s, principal, type="erasure", channel="api", subject_id=customer)
        rights.mark_verified(s, principal, erasure, "staff_review", "KTP diperiksa")
        crm = next(t for t in rights.tasks_of(s, erasure) if t.system_id == "crm")
        execution.complete_task(s, principal, erasure, crm.id, note="dihapus di CRM")
    execution.run_tasks(db, erasure.id)
    runner = CliRunner()

    listed = runner.invoke(app, ["list", "warung-contoh", "--json"], env=_env(settings))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["number"] for r in rows] == ["REQ-000001", "REQ-000002"]
    assert rows[0]["time_left_seconds"] < 0 and rows[0]["due_at"].endswith("+07:00")

    table = runner.invoke(app, ["list", "warung-contoh"], env=_env(settings))
    assert "REQ-000002" in table.output and "-8h" in table.output

    shown = runner.invoke(app, ["show", "warung-contoh", "REQ-000002"], env=_env(settings))
    assert shown.exit_code == 0, shown.output
    assert "erasure" in shown.output and "crm" in shown.output and "staff_review" in shown.output

    evidence = runner.invoke(app, ["evidence", "warung-contoh", erasure.id], env=_env(settings))
    assert evidence.exit_code == 0, evidence.output
    doc = json.loads(evidence.output)
    assert doc["request"]["number"] == "REQ-000002"
    actions = [e["action"] for e in doc["timeline"]]
    assert actions[:3] == ["request.received", "request.verified", "request.planned"]
    assert actions.index("request.task_done") < actions.index("subject.erased")
    assert "subject.erased" in actions and "subject.shredded" in actions
    privasi_task = next(t for t in doc["tasks"] if t["system"] == "privasi")
    assert privasi_task["status"] == "done" and privasi_task["result"]["steps"] == [
        "delete",
        "shred",
    ]
    assert EMAIL not in evidence.output
    assert late.id not in evidence.output


def test_staff_handle_a_request_from_the_command_line(
    settings: Any, db: Any, warung: Any, customer: str
) -> None:
    with db.session(warung.id) as s:
        request = rights.submit(
            s,
            orgs.system_principal(warung.id),
            type="restriction",
            channel="email",
            subject_id=customer,
        )
    runner = CliRunner()
    env = _env(settings)
    early = runner.invoke(
        app, ["task-done", "warung-contoh", "REQ-000001", "crm", "--note", "x"], env=env
    )
    assert early.exit_code != 0 and "no task" in early.output  # no plan before verification
    verified = runner.invoke(
        app,
        ["verify", "warung-contoh", "REQ-000001", "--note", "Telepon balik ke nomor terdaftar"],
        env=env,
    )
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["status"] == "in_progress"
    execution.run_tasks(db, request.id)
    missing = runner.invoke(
        app, ["task-done", "warung-contoh", "REQ-000001", "gudang", "--note", "x"], env=env
    )
    assert missing.exit_code != 0
    done = runner.invoke(
        app,
        ["task-done", "warung-contoh", "REQ-000001", "crm", "--note", "Ditandai dibatasi di CRM"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"number": "REQ-000001", "status": "completed"}
