"""The key store on PostgreSQL (PRIVASI_KEYSTORE_URL), and concurrent first use of one key."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import PG_URL, _pg_db_url

from privasi.db import normalise_url
from privasi.vault import master as master_keys
from privasi.vault.keystore import KeyStore
from privasi.vault.service import SubjectShredded, Vault

MASTER = b"k" * 32


@pytest.fixture
def pg_keystore_url() -> Iterator[str]:
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"privasi_keys_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_db_url(normalise_url(PG_URL), name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _open(url: str, master: bytes = MASTER) -> Vault:
    store = KeyStore(url)
    store.open(master_keys.key_id(master))
    return Vault(store, master)


@pytest.mark.pg_only
def test_key_store_on_postgresql(pg_keystore_url: str) -> None:
    vault = _open(pg_keystore_url)
    token = vault.encrypt_field("org-1", "ani", {"kota": "Medan"}, aad="address")
    index = vault.blind_index("org-1", "email", "ani@contoh.id")
    new = master_keys.generate()
    assert vault.rotate_master_key(new).rewrapped == 2
    vault.close()
    reopened = _open(pg_keystore_url, new)
    assert reopened.decrypt_field("org-1", "ani", token, aad="address") == {"kota": "Medan"}
    assert reopened.blind_index("org-1", "email", "ani@contoh.id") == index
    reopened.shred("org-1", "ani")
    with pytest.raises(SubjectShredded):
        reopened.decrypt_field("org-1", "ani", token, aad="address")
    reopened.close()


def _race(url: str) -> None:
    """Eight processes' vaults create the same subject's key at once: one key wins for all."""
    vaults = [_open(url) for _ in range(8)]
    tokens: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(vaults))

    def first_use(v: Vault) -> None:
        try:
            start.wait()
            tokens.append(v.encrypt_field("org-1", "ani", "Ani", aad="name"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(v,)) for v in vaults]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({t.split(".")[1] for t in tokens}) == 1
    for v in vaults:
        assert all(v.decrypt_field("org-1", "ani", t, aad="name") == "Ani" for t in tokens)
        v.close()


@pytest.mark.pg_only
def test_concurrent_first_use_on_postgresql(pg_keystore_url: str) -> None:
    _race(pg_keystore_url)


def test_concurrent_first_use_on_sqlite(tmp_path) -> None:
    _race(f"sqlite:///{tmp_path / 'keys.sqlite'}")
