"""`privasi keys backup`: consistent, owner-only copies that expire with the backup rule."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privasi.config import Settings
from privasi.vault import backup as backups
from privasi.vault.cli import keys_app
from privasi.vault.keystore import KeyStore
from privasi.vault.service import Vault, VaultError


def test_backup_is_a_working_private_copy(
    vault: Vault, settings: Settings, org_id: str, tmp_path: Path
) -> None:
    token = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    result = backups.backup(settings.keys_url, tmp_path / "bak", keep_days=7)
    assert stat.S_IMODE(result.written.stat().st_mode) == 0o600
    copy = Vault(KeyStore(f"sqlite:///{result.written}"), vault._master)
    assert copy.decrypt_field(org_id, "ani", token, aad="name") == "Ani"
    copy.close()


def test_old_backups_are_pruned_and_other_files_kept(
    settings: Settings, vault: Vault, tmp_path: Path
) -> None:
    directory = tmp_path / "bak"
    now = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    for days in (10, 8, 6, 1):
        backups.backup(settings.keys_url, directory, keep_days=30, now=now - timedelta(days=days))
    (directory / "notes.txt").write_text("keep me")
    result = backups.backup(settings.keys_url, directory, keep_days=7, now=now)
    assert sorted(p.name for p in result.removed) == [
        "keys-20261111T230000Z.sqlite",
        "keys-20261113T230000Z.sqlite",
    ]
    assert sorted(p.name for p in directory.iterdir()) == [
        "keys-20261115T230000Z.sqlite",
        "keys-20261120T230000Z.sqlite",
        "keys-20261121T230000Z.sqlite",
        "notes.txt",
    ]


def test_postgresql_key_store_is_pointed_to_its_own_tools(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="own tools"):
        backups.backup("postgresql+psycopg://db/keys", tmp_path, keep_days=7)


def test_cli_backup(settings: Settings, vault: Vault, tmp_path: Path) -> None:
    env = {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_KEYSTORE_BACKUP_DAYS": "3",
    }
    result = CliRunner().invoke(keys_app, ["backup", str(tmp_path / "bak")], env=env)
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "bak").glob("keys-*.sqlite"))) == 1


def test_two_backups_in_one_second_do_not_overwrite(
    settings: Settings, vault: Vault, tmp_path: Path
) -> None:
    now = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    backups.backup(settings.keys_url, tmp_path, keep_days=7, now=now)
    with pytest.raises(VaultError, match="already exists"):
        backups.backup(settings.keys_url, tmp_path, keep_days=7, now=now)
