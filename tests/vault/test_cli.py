"""`privasi secrets`, `privasi keys` and `privasi master-key` driven as an operator would."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privasi.config import Settings
from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.vault import master as master_keys
from privasi.vault.cli import keys_app, master_key_app, secrets_app
from privasi.vault.service import Vault

SMTP = "smtp-pass-Rahasia!2026"


@pytest.fixture
def env(settings: Settings, db: Database) -> dict[str, str]:
    with db.session(system=True) as s:
        orgs.create_org(s, "toko-kopi", "Toko Kopi Senja")
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_secrets_set_list_delete(env: dict[str, str], settings: Settings, db: Database) -> None:
    runner = CliRunner()
    stored = runner.invoke(
        secrets_app, ["set", "toko-kopi", "SMTP_PASSWORD"], input=SMTP + "\n", env=env
    )
    assert stored.exit_code == 0, stored.output
    assert SMTP not in stored.output and "stored" in stored.output
    listed = runner.invoke(secrets_app, ["list", "toko-kopi"], env=env)
    assert "SMTP_PASSWORD" in listed.output and SMTP not in listed.output
    with db.session(system=True) as s:
        org_id = orgs.get_org_by_slug(s, "toko-kopi").id
    vault = Vault.from_settings(settings, db)
    with db.session(org_id) as s:
        from privasi.vault.service import get_secret

        assert get_secret(s, "SMTP_PASSWORD", vault=vault) == SMTP  # trailing newline dropped
    vault.close()
    deleted = runner.invoke(secrets_app, ["delete", "toko-kopi", "SMTP_PASSWORD"], env=env)
    assert deleted.exit_code == 0
    again = runner.invoke(secrets_app, ["delete", "toko-kopi", "SMTP_PASSWORD"], env=env)
    assert again.exit_code == 1


def test_unknown_organisation_is_one_clear_line(env: dict[str, str]) -> None:
    result = CliRunner().invoke(secrets_app, ["list", "tidak-ada"], env=env)
    assert result.exit_code == 1 and "organisation not found" in result.output


def test_reapply_shreds_reports_counts(env: dict[str, str], settings: Settings, db) -> None:
    vault = Vault.from_settings(settings, db)
    with db.session(system=True) as s:
        org_id = orgs.get_org_by_slug(s, "toko-kopi").id
    vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    with db.session(org_id) as s:
        vault.shred(org_id, "ani", session=s)
    vault.close()
    result = CliRunner().invoke(keys_app, ["reapply-shreds"], env=env)
    assert result.exit_code == 0, result.output
    assert "keys destroyed: 0" in result.output


def test_rotate_with_environment_key_writes_the_new_key_aside(
    env: dict[str, str], settings: Settings, db, tmp_path: Path
) -> None:
    vault = Vault.from_settings(settings, db)
    with db.session(system=True) as s:
        org_id = orgs.get_org_by_slug(s, "toko-kopi").id
    token = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    held = sum(n for kind, n in vault.stats().items() if kind.endswith(" keys"))
    vault.close()
    runner = CliRunner()
    refused = runner.invoke(master_key_app, ["rotate"], env=env)
    assert refused.exit_code == 2 and "--new-key-file" in refused.output
    new_file = tmp_path / "new-master.key"
    rotated = runner.invoke(master_key_app, ["rotate", "--new-key-file", str(new_file)], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert f"rewrapped {held} keys" in rotated.output and "PRIVASI_MASTER_KEY" in rotated.output
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
    new_key = new_file.read_text().strip()
    reopened = Vault.from_settings(settings.model_copy(update={"master_key": new_key}))
    assert reopened.master_key_id == master_keys.key_id(master_keys.decode(new_key))
    assert reopened.decrypt_field(org_id, "ani", token, aad="name") == "Ani"
    reopened.close()
    exists = runner.invoke(master_key_app, ["rotate", "--new-key-file", str(new_file)], env=env)
    assert exists.exit_code != 0


def test_rotate_with_key_file(env: dict[str, str], settings: Settings) -> None:
    store = f"sqlite:///{settings.data_dir / 'file-mode-keys.sqlite'}"
    env = env | {"PRIVASI_MASTER_KEY": "", "PRIVASI_KEYSTORE_URL": store}
    # A fresh Settings: model_copy would keep the cached keys_url of the original.
    file_settings = Settings(
        **(settings.model_dump() | {"master_key": None, "keystore_url": store})
    )
    first = Vault.from_settings(file_settings)
    before = first.master_key_id
    first.close()
    result = CliRunner().invoke(master_key_app, ["rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "master.key now holds the new key" in result.output.replace("\n", "")
    after = Vault.from_settings(file_settings)
    assert after.master_key_id != before
    after.close()


def test_status_and_master_key_id(env: dict[str, str], settings: Settings, db) -> None:
    vault = Vault.from_settings(settings, db)
    with db.session(system=True) as s:
        org_id = orgs.get_org_by_slug(s, "toko-kopi").id
    for subject in ("ani", "budi"):
        vault.encrypt_field(org_id, subject, "x", aad="f")
    vault.shred(org_id, "budi")
    expected_id = vault.master_key_id
    vault.close()
    runner = CliRunner()
    shown = runner.invoke(master_key_app, ["id"], env=env)
    assert shown.output.strip() == expected_id
    assert settings.master_key not in shown.output
    status = runner.invoke(keys_app, ["status"], env=env)
    assert "subject keys: 1" in status.output and "shredded subjects: 1" in status.output
    assert "7 days" in status.output


def test_wrong_master_key_is_one_clear_line(env: dict[str, str]) -> None:
    import base64

    wrong = env | {"PRIVASI_MASTER_KEY": base64.b64encode(b"w" * 32).decode()}
    result = CliRunner().invoke(keys_app, ["status"], env=wrong)
    assert result.exit_code == 1
    assert "master key" in result.output and "Traceback" not in result.output
