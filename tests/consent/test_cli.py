"""`privasi consent export` and `privasi consent check`."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from privasi.audit import service as audit
from privasi.consent import service as consent
from privasi.consent.cli import app
from privasi.subjects import service as subjects


@pytest.fixture
def env(settings, db, toko, principal, proof):  # type: ignore[no-untyped-def]
    with db.session(toko.id) as s:
        sari = subjects.find_or_create(s, principal, {"email": "sari@contoh.example"})
        consent.grant(s, principal, sari, "newsletter", proof())
        consent.withdraw(s, principal, sari, "newsletter", proof(text="", method="button"))
        consent.grant(
            s,
            principal,
            sari,
            "whatsapp_promo",
            proof(channel="whatsapp", method="keyword", text="MULAI"),
        )
    return {
        "subject": sari.id,
        "env": {
            "PRIVASI_ENV": "test",
            "PRIVASI_DATA_DIR": str(settings.data_dir),
            "PRIVASI_DATABASE_URL": settings.db_url,
            "PRIVASI_KEYSTORE_URL": settings.keys_url,
            "PRIVASI_MASTER_KEY": settings.master_key or "",
            "PRIVASI_SECRET_KEY": settings.secret_key or "",
        },
    }


def test_export_json_is_the_full_history_and_is_audited(env, db, toko, tmp_path):
    out = tmp_path / "evidence.json"
    result = CliRunner().invoke(
        app, ["export", "toko-contoh", env["subject"], "--out", str(out)], env=env["env"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["subject_id"] == env["subject"]
    assert [(e["purpose"], e["action"]) for e in doc["events"]] == [
        ("newsletter", "granted"),
        ("newsletter", "withdrawn"),
        ("whatsapp_promo", "granted"),
    ]
    assert doc["events"][2]["proof"]["text"] == "MULAI"
    assert {c["purpose"]: c["reason_now"] for c in doc["current"]} == {
        "newsletter": "withdrawn",
        "whatsapp_promo": "consent",
    }
    assert "sari@" not in out.read_text()
    with db.session(toko.id) as s:
        [entry] = audit.query(s, action="consent.exported").items
        assert entry.subject_id == env["subject"] and entry.details["events"] == 3


def test_export_csv_has_one_row_per_event(env):
    result = CliRunner().invoke(
        app, ["export", "toko-contoh", env["subject"], "--format", "csv"], env=env["env"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["action"] for r in rows] == ["granted", "withdrawn", "granted"]
    assert rows[0]["client_addr"] == "203.0.113.0/24" and rows[0]["method"] == "checkbox"


def test_unknown_subject_is_one_line_error(env):
    result = CliRunner().invoke(app, ["export", "toko-contoh", "no-such-id"], env=env["env"])
    assert result.exit_code == 1 and "subject not found" in result.output


def test_check_exit_code_follows_the_decision(env):
    ok = CliRunner().invoke(
        app, ["check", "toko-contoh", env["subject"], "whatsapp_promo"], env=env["env"]
    )
    assert ok.exit_code == 0 and "allowed: consent" in ok.output
    no = CliRunner().invoke(
        app, ["check", "toko-contoh", env["subject"], "newsletter"], env=env["env"]
    )
    assert no.exit_code == 1 and "not allowed: withdrawn" in no.output


def test_export_csv_shows_formula_like_cells_as_text(settings, db, toko, principal, proof, env):
    """A browser's user-agent is whatever the visitor sent: opened in a spreadsheet, the CSV must
    not run it as a formula. The JSON export keeps it as sent."""
    agent = '=HYPERLINK("http://contoh.example/x","klik")'
    with db.session(toko.id) as s:
        sari = subjects.find_or_create(s, principal, {"email": "sari@contoh.example"})
        consent.grant(s, principal, sari, "newsletter", proof(user_agent=agent, text="-ya"))
    result = CliRunner().invoke(
        app, ["export", "toko-contoh", env["subject"], "--format", "csv"], env=env["env"]
    )
    assert result.exit_code == 0, result.output
    last = list(csv.DictReader(io.StringIO(result.output)))[-1]
    assert last["user_agent"] == "'" + agent and last["text"] == "'-ya"
    raw = CliRunner().invoke(app, ["export", "toko-contoh", env["subject"]], env=env["env"])
    assert json.loads(raw.output)["events"][-1]["proof"]["user_agent"] == agent
