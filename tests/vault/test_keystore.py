"""The key store: separation from the main database, version row, master key, cache, rotation."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, update
from tests.conftest import make_settings

from privasi.config import Settings
from privasi.db import Database
from privasi.vault import master as master_keys
from privasi.vault.keystore import KeyStoreMeta, WrappedKey
from privasi.vault.service import MasterKeyMismatch, Vault, VaultError


def _keystore_path(settings: Settings) -> Path:
    return Path(settings.keys_url.removeprefix("sqlite:///"))


def test_keys_live_in_the_key_store_not_the_main_database(
    vault: Vault, db: Database, settings: Settings, org_id: str
) -> None:
    vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    vault.blind_index(org_id, "email", "ani@example.id")
    main_tables = set(inspect(db.engine).get_table_names())
    assert not {"vault_keys", "shred_journal", "keystore_meta"} & main_tables
    with vault.keystore.session() as ks:
        kinds = sorted(r.kind for r in ks.scalars(select(WrappedKey)))
        meta = ks.get(KeyStoreMeta, 1)
        assert meta is not None and meta.schema_version == 1
        assert meta.master_key_id == vault.master_key_id
    assert {"blind_index", "subject"} <= set(kinds)
    assert stat.S_IMODE(_keystore_path(settings).stat().st_mode) == 0o600


def test_wrapped_keys_are_not_the_raw_keys(vault: Vault, org_id: str) -> None:
    vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    with vault.keystore.session() as ks:
        row = ks.scalars(select(WrappedKey).where(WrappedKey.kind == "subject")).one()
        wrapped = row.wrapped
    _, raw = vault._key(org_id, "subject:ani", create=False)  # type: ignore[misc]
    assert raw not in wrapped and len(wrapped) == 12 + 32 + 16


def test_a_newer_key_store_schema_is_refused(vault: Vault, settings: Settings) -> None:
    with vault.keystore.session() as ks:
        ks.execute(update(KeyStoreMeta).values(schema_version=99))
    with pytest.raises(VaultError, match="schema version 99"):
        Vault.from_settings(settings)


def test_wrong_master_key_is_refused_with_both_ids(
    vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    other = settings.model_copy(update={"master_key": base64.b64encode(b"o" * 32).decode()})
    with pytest.raises(MasterKeyMismatch) as info:
        Vault.from_settings(other)
    assert vault.master_key_id in info.value.detail
    assert master_keys.key_id(b"o" * 32) in info.value.detail


def test_master_key_file_is_created_private_when_not_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "file-mode", master_key=None)
    vault = Vault.from_settings(settings)
    path = settings.data_dir / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text())) == 32
    again = Vault.from_settings(settings)
    assert again.master_key_id == vault.master_key_id
    vault.close()
    again.close()


def test_bad_master_key_setting_is_explained(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="32 bytes"):
        Vault.from_settings(make_settings(tmp_path, master_key=base64.b64encode(b"short").decode()))


def test_cache_is_bounded(settings: Settings, org_id: str) -> None:
    vault = Vault.from_settings(settings)
    vault._cache_size = 3
    tokens = {f"s{i}": vault.encrypt_field(org_id, f"s{i}", f"v{i}", aad="f") for i in range(10)}
    assert len(vault._cache) == 3
    for subject, token in tokens.items():
        assert vault.decrypt_field(org_id, subject, token, aad="f") == "v" + subject[1:]
    vault.close()


def test_rotation_with_key_file_replaces_the_file(tmp_path: Path, org_id_factory) -> None:
    settings = make_settings(tmp_path / "file-mode", master_key=None)
    vault = Vault.from_settings(settings)
    org_id = org_id_factory
    token = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    index = vault.blind_index(org_id, "phone", "0812-1111-2222")
    old_text = (settings.data_dir / "master.key").read_text()
    result = vault.rotate_master_key()
    assert result.rewrapped == 2  # this store holds Ani's key and the blind-index key
    assert result.old_key_id != result.new_key_id
    assert (settings.data_dir / "master.key").read_text() != old_text
    assert not (settings.data_dir / "master.key.next").exists()
    vault.close()
    reopened = Vault.from_settings(settings)
    assert reopened.master_key_id == result.new_key_id
    assert reopened.decrypt_field(org_id, "ani", token, aad="name") == "Ani"
    assert reopened.blind_index(org_id, "phone", "+62 812 1111 2222") == index
    reopened.close()


def test_crash_after_rewrap_is_finished_on_next_open(tmp_path: Path, org_id_factory) -> None:
    settings = make_settings(tmp_path / "file-mode", master_key=None)
    vault = Vault.from_settings(settings)
    token = vault.encrypt_field(org_id_factory, "ani", "Ani", aad="name")
    new = master_keys.generate()
    # The rotation wrote master.key.next and rewrapped, then the process died before the rename.
    master_keys.write_private(settings.data_dir / "master.key.next", new)
    vault.rewrap(new)
    vault.close()
    reopened = Vault.from_settings(settings)
    assert reopened.master_key_id == master_keys.key_id(new)
    assert master_keys.decode((settings.data_dir / "master.key").read_text()) == new
    assert reopened.decrypt_field(org_id_factory, "ani", token, aad="name") == "Ani"
    reopened.close()


def test_crash_before_rewrap_drops_the_unused_next_key(tmp_path: Path, org_id_factory) -> None:
    settings = make_settings(tmp_path / "file-mode", master_key=None)
    vault = Vault.from_settings(settings)
    before = vault.master_key_id
    vault.close()
    master_keys.write_private(settings.data_dir / "master.key.next", master_keys.generate())
    reopened = Vault.from_settings(settings)
    assert reopened.master_key_id == before
    assert not (settings.data_dir / "master.key.next").exists()
    reopened.close()


def test_rotation_with_environment_key(settings: Settings, vault: Vault, org_id: str) -> None:
    token = vault.encrypt_field(org_id, "ani", {"kota": "Bandung"}, aad="address")
    new = master_keys.generate()
    vault.rotate_master_key(new)
    with pytest.raises(MasterKeyMismatch):
        Vault.from_settings(settings)  # still configured with the old key
    rotated = settings.model_copy(update={"master_key": master_keys.encode(new)})
    reopened = Vault.from_settings(rotated)
    assert reopened.decrypt_field(org_id, "ani", token, aad="address") == {"kota": "Bandung"}
    reopened.close()


def test_process_on_old_master_refuses_to_create_keys(
    settings: Settings, vault: Vault, org_id: str
) -> None:
    stale = Vault.from_settings(settings)
    vault.rotate_master_key(master_keys.generate())
    with pytest.raises(MasterKeyMismatch):
        stale.encrypt_field(org_id, "new-subject", "x", aad="f")
    stale.close()


@pytest.fixture
def org_id_factory(db: Database) -> str:
    from privasi.orgs import service as orgs

    with db.session(system=True) as s:
        return orgs.create_org(s, "warung-maju", "Warung Maju").id


def test_loose_master_key_file_permissions_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "loose", master_key=None)
    master_keys.resolved_master_key(settings)
    path = settings.data_dir / "master.key"
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="privasi.vault"):
        master_keys.resolved_master_key(settings)
    assert "chmod 600" in caplog.text


def test_rotation_does_not_touch_the_main_database(
    vault: Vault, db: Database, settings: Settings, org_id: str
) -> None:
    from sqlalchemy import text

    from privasi.orgs.service import system_principal
    from privasi.vault import service as vs

    with db.session(org_id) as s:
        vs.set_secret(s, system_principal(org_id), "SMTP_PASSWORD", "rahasia-smtp")
    vault.encrypt_field(org_id, "ani", "Ani", aad="name")

    def snapshot() -> list[tuple]:
        with db.engine.connect() as conn:
            return [
                tuple(row)
                for table in ("org_secrets", "audit_events", "audit_heads", "vault_shreds")
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
            ]

    before = snapshot()
    vault.rotate_master_key(master_keys.generate())
    assert snapshot() == before
    with db.session(org_id) as s:
        assert vs.get_secret(s, "SMTP_PASSWORD", vault=vault) == "rahasia-smtp"


def test_rotation_never_deletes_the_key_an_interrupted_rotation_installed(
    tmp_path: Path, org_id_factory
) -> None:
    settings = make_settings(tmp_path / "file-mode", master_key=None)
    stale = Vault.from_settings(settings)
    token = stale.encrypt_field(org_id_factory, "ani", "Ani", aad="name")
    new = master_keys.generate()
    master_keys.write_private(settings.data_dir / "master.key.next", new)
    Vault(stale.keystore, stale._master).rewrap(new)  # another process, interrupted after commit
    with pytest.raises(VaultError, match="interrupted rotation"):
        stale.rotate_master_key()
    assert master_keys.pending_next_key(settings) == new
    reopened = Vault.from_settings(settings)
    assert reopened.decrypt_field(org_id_factory, "ani", token, aad="name") == "Ani"
    stale.close()
    reopened.close()


def test_a_process_starting_mid_rotation_waits_for_it(tmp_path: Path, org_id_factory) -> None:
    import os
    import threading

    settings = make_settings(tmp_path / "file-mode", master_key=None)
    rotating = Vault.from_settings(settings)
    token = rotating.encrypt_field(org_id_factory, "ani", "Ani", aad="name")
    new = master_keys.generate()
    opened: list[Vault] = []
    with master_keys.rotation_lock(settings):
        next_path = settings.data_dir / "master.key.next"
        master_keys.write_private(next_path, new)  # the rotation is under way ...
        starter = threading.Thread(target=lambda: opened.append(Vault.from_settings(settings)))
        starter.start()
        starter.join(timeout=0.5)
        assert starter.is_alive() and next_path.exists()  # ... so the new process waits
        rotating.rewrap(new)
        os.replace(next_path, settings.data_dir / "master.key")
    starter.join(timeout=10)
    assert opened and opened[0].master_key_id == master_keys.key_id(new)
    assert opened[0].decrypt_field(org_id_factory, "ani", token, aad="name") == "Ani"
    opened[0].close()
    rotating.close()
