"""Crypto-shredding: erasure reaches every copy of the main database; a restored older key store
is corrected by reapplying the journal."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from tests.conftest import BACKEND

from privasi.config import Settings
from privasi.db import Database
from privasi.vault.keystore import ShredEntry, WrappedKey
from privasi.vault.models import ShredRecord
from privasi.vault.service import KeyUnavailable, SubjectShredded, Vault


def _copy_sqlite(src: Path, dst: Path) -> None:
    # The online backup API copies a consistent state, WAL included, as a backup tool would.
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_shred_makes_data_unreadable_and_refuses_new_data(vault: Vault, org_id: str) -> None:
    ani = vault.encrypt_field(org_id, "ani", "Ani Wijaya", aad="name")
    budi = vault.encrypt_field(org_id, "budi", "Budi Santoso", aad="name")
    assert vault.shred(org_id, "ani") is True
    with pytest.raises(SubjectShredded):
        vault.decrypt_field(org_id, "ani", ani, aad="name")
    with pytest.raises(SubjectShredded):
        vault.encrypt_field(org_id, "ani", "again", aad="name")
    assert vault.decrypt_field(org_id, "budi", budi, aad="name") == "Budi Santoso"
    assert vault.is_shredded(org_id, "ani") and not vault.is_shredded(org_id, "budi")
    assert vault.shred(org_id, "ani") is False  # idempotent


def test_shred_reaches_other_processes_once_their_cache_expires(
    settings: Settings, org_id: str
) -> None:
    writer = Vault.from_settings(settings)
    reader = Vault.from_settings(settings)
    reader._cache_ttl = 0
    token = writer.encrypt_field(org_id, "ani", "Ani", aad="name")
    assert reader.decrypt_field(org_id, "ani", token, aad="name") == "Ani"
    writer.shred(org_id, "ani")
    with pytest.raises(SubjectShredded):
        reader.decrypt_field(org_id, "ani", token, aad="name")
    writer.close()
    reader.close()


def test_shred_is_scoped_to_its_organisation(vault: Vault, org_id: str, other_org_id: str) -> None:
    here = vault.encrypt_field(org_id, "same-id", "A", aad="f")
    there = vault.encrypt_field(other_org_id, "same-id", "B", aad="f")
    vault.shred(org_id, "same-id")
    with pytest.raises(SubjectShredded):
        vault.decrypt_field(org_id, "same-id", here, aad="f")
    assert vault.decrypt_field(other_org_id, "same-id", there, aad="f") == "B"


@pytest.mark.skipif(BACKEND != "sqlite", reason="copies the main database file")
def test_backup_of_main_database_loses_shredded_subject_only(
    vault: Vault, db: Database, settings: Settings, org_id: str, tmp_path: Path
) -> None:
    """Copy the main database, shred a subject, restore the old copy with the current key store:
    that subject's data cannot be read, everyone else's can."""
    people = {"ani": "Ani Wijaya", "budi": "Budi Santoso", "citra": "Citra Lestari"}
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t_profiles (subject_id TEXT, name_enc TEXT)"))
        for subject, name in people.items():
            conn.execute(
                text("INSERT INTO t_profiles VALUES (:s, :n)"),
                {"s": subject, "n": vault.encrypt_field(org_id, subject, name, aad="name")},
            )
    backup = tmp_path / "backup.sqlite"
    _copy_sqlite(_path(settings.db_url), backup)

    with db.session(org_id) as s:
        vault.shred(org_id, "budi", session=s)
    db.dispose()
    _path(settings.db_url).unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(_path(settings.db_url)) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, _path(settings.db_url))  # the restore

    restored = Database(settings.db_url)
    current_store = Vault.from_settings(settings, restored)
    with restored.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT subject_id, name_enc FROM t_profiles")).all())
    assert set(rows) == set(people)  # the ciphertext is still in the restored copy ...
    with pytest.raises(SubjectShredded):  # ... but nothing can open it
        current_store.decrypt_field(org_id, "budi", rows["budi"], aad="name")
    for subject in ("ani", "citra"):
        assert (
            current_store.decrypt_field(org_id, subject, rows[subject], aad="name")
            == (people[subject])
        )
    # The restored main database lost its copy of the journal; reapplying puts it back.
    with restored.session(system=True) as s:
        result = current_store.reapply_shreds(s)
        assert result.mirror_restored == 1 and result.keys_destroyed == 0
    with restored.session(system=True) as s:
        assert s.scalars(select(ShredRecord.subject_id)).all() == ["budi"]
    current_store.close()
    restored.dispose()


def test_reapply_shreds_after_restoring_an_older_key_store(
    vault: Vault, db: Database, settings: Settings, org_id: str, tmp_path: Path
) -> None:
    ani = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    budi = vault.encrypt_field(org_id, "budi", "Budi", aad="name")
    old_store = tmp_path / "keys-backup.sqlite"
    _copy_sqlite(_path(settings.keys_url), old_store)

    with db.session(org_id) as s:
        vault.shred(org_id, "ani", session=s)
    vault.close()
    _path(settings.keys_url).unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(_path(settings.keys_url)) + suffix).unlink(missing_ok=True)
    shutil.copyfile(old_store, _path(settings.keys_url))  # restore the older key store

    restored = Vault.from_settings(settings, db)
    # The old store still holds Ani's key and knows nothing of the shred ...
    assert restored.decrypt_field(org_id, "ani", ani, aad="name") == "Ani"
    with db.session(system=True) as s:
        result = restored.reapply_shreds(s)
    assert (result.keys_destroyed, result.journal_restored) == (1, 1)
    # ... until the journal kept in the main database is reapplied.
    with pytest.raises(SubjectShredded):
        restored.decrypt_field(org_id, "ani", ani, aad="name")
    assert restored.decrypt_field(org_id, "budi", budi, aad="name") == "Budi"
    with restored.keystore.session() as ks:
        assert ks.scalars(select(ShredEntry.subject_id)).all() == ["ani"]
    with db.session(system=True) as s:
        again = restored.reapply_shreds(s)
    assert again == type(again)(0, 0, 0)
    restored.close()


def test_reapply_from_the_key_store_journal_alone(
    vault: Vault, settings: Settings, org_id: str
) -> None:
    token = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    vault.shred(org_id, "ani")
    # A key row put back by hand (say, a partial restore) is destroyed again from the journal.
    vault.close()
    other = Vault.from_settings(settings)
    with other.keystore.session() as ks:
        ks.query(ShredEntry).delete()
    other.encrypt_field(org_id, "ani", "new", aad="name")
    with other.keystore.session() as ks:
        ks.add(ShredEntry(org_id=org_id, subject_id="ani"))
    assert other.reapply_shreds().keys_destroyed == 1
    with pytest.raises(SubjectShredded):
        other.decrypt_field(org_id, "ani", token, aad="name")
    other.close()


def test_value_sealed_under_a_lost_key_names_the_key(vault: Vault, org_id: str) -> None:
    token = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    with vault.keystore.session() as ks:
        ks.execute(text("DELETE FROM vault_keys"))
    vault._cache.clear()
    vault.encrypt_field(org_id, "ani", "new value", aad="name")  # a new key, a new id
    with pytest.raises(KeyUnavailable, match=token.split(".")[1]):
        vault.decrypt_field(org_id, "ani", token, aad="name")


def test_main_database_holds_no_key_material(vault: Vault, db: Database, org_id: str) -> None:
    with db.session(org_id) as s:
        vault.shred(org_id, "ani", session=s)
    engine = create_engine(db.url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT subject_id, key_id FROM vault_shreds")).one()
    engine.dispose()
    assert row[0] == "ani"


def test_shred_org_destroys_every_key_of_that_organisation_only(
    vault: Vault, db: Database, org_id: str, other_org_id: str
) -> None:
    from privasi.orgs.service import system_principal
    from privasi.vault import service as vs
    from privasi.vault.service import VaultError

    ani = vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    other = vault.encrypt_field(other_org_id, "ani", "Other Ani", aad="name")
    with db.session(org_id) as s:
        vs.set_secret(s, system_principal(org_id), "DB_URL", "postgresql://toko@db/toko")
    index = vault.blind_index(other_org_id, "email", "ani@contoh.id")

    assert vault.shred_org(org_id) >= 3  # ani, blind index/audit/secrets keys
    with pytest.raises(SubjectShredded):
        vault.decrypt_field(org_id, "ani", ani, aad="name")
    with pytest.raises(SubjectShredded):
        vault.encrypt_field(org_id, "budi", "new", aad="name")
    with pytest.raises(VaultError):
        vault.blind_index(org_id, "email", "ani@contoh.id")
    with db.session(org_id) as s, pytest.raises(VaultError):
        vs.get_secret(s, "DB_URL")
    assert vault.decrypt_field(other_org_id, "ani", other, aad="name") == "Other Ani"
    assert vault.blind_index(other_org_id, "email", "ani@contoh.id") == index


def test_whole_org_shred_is_reapplied_too(vault: Vault, settings: Settings, org_id: str) -> None:
    vault.encrypt_field(org_id, "ani", "Ani", aad="name")
    vault.shred_org(org_id)
    with vault.keystore.session() as ks:  # a key put back by a partial restore
        ks.add(
            WrappedKey(
                key_id="dk-restored",
                org_id=org_id,
                name="subject:ani",
                kind="subject",
                wrapped=b"x" * 60,
                master_key_id=vault.master_key_id,
            )
        )
    assert vault.reapply_shreds().keys_destroyed == 1


def test_the_whole_org_marker_is_not_a_subject_id(vault: Vault, org_id: str) -> None:
    from privasi.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        vault.encrypt_field(org_id, "*", "x", aad="f")
    with pytest.raises(ValidationFailed):
        vault.shred(org_id, "*")


@pytest.mark.pg_only
def test_backup_of_main_database_on_postgresql(
    vault: Vault, db: Database, settings: Settings, org_id: str
) -> None:
    """The same rule on PostgreSQL: the backup is a copy made with CREATE DATABASE ... TEMPLATE."""
    from sqlalchemy.engine import make_url
    from tests.conftest import PG_URL

    from privasi.db import normalise_url

    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t_profiles (subject_id TEXT, name_enc TEXT)"))
        for subject, name in {"ani": "Ani Wijaya", "budi": "Budi Santoso"}.items():
            conn.execute(
                text("INSERT INTO t_profiles VALUES (:s, :n)"),
                {"s": subject, "n": vault.encrypt_field(org_id, subject, name, aad="name")},
            )
    db.dispose()
    source = make_url(db.url).database
    backup = f"{source}_bak"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{backup}" TEMPLATE "{source}"'))
    try:
        with db.session(org_id) as s:
            vault.shred(org_id, "budi", session=s)
        restored = Database(make_url(db.url).set(database=backup).render_as_string(False))
        with restored.engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT subject_id, name_enc FROM t_profiles")).all())
        restored.dispose()
        with pytest.raises(SubjectShredded):
            vault.decrypt_field(org_id, "budi", rows["budi"], aad="name")
        assert vault.decrypt_field(org_id, "ani", rows["ani"], aad="name") == "Ani Wijaya"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{backup}" WITH (FORCE)'))
        admin.dispose()
