"""`privasi retention plan|run|report|clock` and `privasi holds place|list|release`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from typer.testing import CliRunner

from privasi.retention import cli as retention_cli
from privasi.retention.cli import app, holds_app
from privasi.subjects import service as subjects

from .conftest import T0, naive, principal


def _env(settings: Any) -> dict[str, str]:
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_plan_run_report_and_holds_from_the_command_line(
    settings: Any, db: Any, business: Any, monkeypatch: Any
) -> None:
    biz = business("cybernet")
    old = naive(T0 - timedelta(days=800))
    biz.insert(
        "billing",
        "clients",
        [
            {"id": 1, "email": "lama@contoh.example", "fullname": "Lama", "closed_at": old},
            {"id": 2, "email": "aktif@contoh.example", "fullname": "Aktif", "closed_at": None},
        ],
    )
    with db.session(biz.org_id) as s:
        subject_id = subjects.find_or_create(
            s, principal(biz.org_id), {"email": "x@contoh.example"}
        ).id
    runner, env = CliRunner(), _env(settings)
    at = ["--at", T0.isoformat()]

    planned = runner.invoke(app, ["plan", biz.slug, *at, "--json"], env=env)
    assert planned.exit_code == 0, planned.output
    account = next(p for p in json.loads(planned.output) if p["rule"] == "account")
    assert [
        (i["table"].rpartition(".")[2], i["due"])
        for i in account["items"]
        if i["system"] == "billing"
    ] == [("clients", 1)]
    whatsapp = next(p for p in json.loads(planned.output) if p["rule"] == "whatsapp")
    assert {"system": "whatsapp_inbox", "table": None, "reason": "http_system", "detail": ""} in (
        whatsapp["skipped"]
    )
    # The console reads its width once, when the module is imported: widen it for this table.
    monkeypatch.setattr(retention_cli.out, "width", 250)
    table = runner.invoke(app, ["plan", biz.slug, *at], env=env)
    assert table.exit_code == 0 and "http_system" in table.output

    placed = runner.invoke(
        holds_app,
        ["place", biz.slug, "subject", subject_id, "--reason", "Sengketa", "--owner", "Legal"],
        env=env,
    )
    assert placed.exit_code == 0, placed.output
    hold_id = placed.output.strip()
    listed = runner.invoke(holds_app, ["list", biz.slug, "--json"], env=env)
    assert [h["id"] for h in json.loads(listed.output)] == [hold_id]
    assert "x@contoh.example" not in listed.output

    ran = runner.invoke(app, ["run", biz.slug, "--rule", "account", *at, "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    (run,) = json.loads(ran.output)
    assert run["deleted"] == 1 and len(run["keys_digest"]) == 64
    assert [r["id"] for r in biz.rows("billing", "clients")] == [2]

    clock = runner.invoke(app, ["clock", biz.slug, subject_id, "account_closed", *at], env=env)
    assert clock.exit_code == 0 and clock.output.startswith("account_closed")

    released = runner.invoke(
        holds_app, ["release", biz.slug, hold_id, "--note", "selesai"], env=env
    )
    assert released.exit_code == 0
    report = runner.invoke(
        app, ["report", biz.slug, "--from", "2000-01-01", "--to", "2100-01-01"], env=env
    )
    assert report.exit_code == 0, report.output
    found = json.loads(report.output)
    assert found["totals"] == {"runs": 1, "deleted": 1, "anonymised": 0, "shredded": 0}
    assert found["runs"][0]["audit_event"] is not None
    assert [h["released_at"] is not None for h in found["holds"]] == [True]
