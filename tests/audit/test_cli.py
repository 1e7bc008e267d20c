"""`privasi audit checkpoint` and `privasi audit verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from privasi.audit import service as audit
from privasi.audit.cli import app
from privasi.config import Settings
from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.vault.service import Vault


@pytest.fixture
def env(settings: Settings, db: Database, org_id: str) -> dict[str, str]:
    org_id_fixture = org_id
    org_id = org_id_fixture
    vault = Vault.from_settings(settings, db)
    with db.session(org_id) as s:
        for i in range(4):
            audit.record(s, orgs.system_principal(org_id), "subject.read", subject_id=f"s{i}")
    vault.close()
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_checkpoint_then_verify(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cp.json"
    made = runner.invoke(app, ["checkpoint", "toko-kopi", "--out", str(out)], env=env)
    assert made.exit_code == 0, made.output
    saved = json.loads(out.read_text())
    assert saved["seq"] == 4 and json.loads(made.output) == saved
    checked = runner.invoke(app, ["verify", "toko-kopi", "--checkpoint", str(out)], env=env)
    assert checked.exit_code == 0, checked.output
    assert "4 events verified" in checked.output and "2 checkpoint(s)" in checked.output


def test_verify_fails_naming_the_first_bad_event(env: dict[str, str], db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET purpose = 'edited' WHERE seq = 2"))
    result = CliRunner().invoke(app, ["verify", "toko-kopi"], env=env)
    assert result.exit_code == 1
    assert "FAILED at event 2" in result.output


def test_verify_against_checkpoint_detects_truncation(
    env: dict[str, str], db: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "cp.json"
    runner.invoke(app, ["checkpoint", "toko-kopi", "--out", str(out)], env=env)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
        conn.execute(
            text(
                "UPDATE audit_heads SET seq = 3, mac = (SELECT mac FROM audit_events WHERE seq = 3)"
            )
        )
    assert runner.invoke(app, ["verify", "toko-kopi"], env=env).exit_code == 0
    result = runner.invoke(app, ["verify", "toko-kopi", "--checkpoint", str(out)], env=env)
    assert result.exit_code == 1 and "FAILED at event 4" in result.output
    assert "truncat" in result.output or "removed from the end" in result.output


def test_unreadable_checkpoint_file(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "cp.json"
    bad.write_text("{}")
    result = CliRunner().invoke(app, ["verify", "toko-kopi", "--checkpoint", str(bad)], env=env)
    assert result.exit_code == 1 and "not a privasi audit checkpoint" in result.output
