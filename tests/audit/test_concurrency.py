"""Concurrent writers extend one chain; they never fork it."""

from __future__ import annotations

import threading

import pytest

from privasi.audit import service as audit
from privasi.db import Database
from privasi.orgs.service import system_principal
from privasi.vault.service import Vault

THREADS, EACH = 6, 15


def _hammer(db: Database, org_id: str, vault: Vault) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                # A separate transaction per event, as separate requests would be.
                with db.session(org_id) as s:
                    audit.record(
                        s,
                        system_principal(org_id, f"w{n}"),
                        "subject.read",
                        subject_id=f"s{n}-{i}",
                        vault=vault,
                    )
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def _assert_one_chain(db: Database, org_id: str) -> None:
    with db.session(org_id) as s:
        result = audit.verify(s, org_id)
        seqs = sorted(e.seq for e in audit.query(s, limit=500).items)
    assert result.ok, result.message
    assert seqs == list(range(1, THREADS * EACH + 1))


@pytest.mark.pg_only
def test_threads_on_postgresql_do_not_fork_the_chain(
    vault: Vault, db: Database, org_id: str
) -> None:
    assert db.is_postgres
    assert _hammer(db, org_id, vault) == []
    _assert_one_chain(db, org_id)


def test_threads_on_sqlite_do_not_fork_the_chain(vault: Vault, db: Database, org_id: str) -> None:
    if db.is_postgres:
        pytest.skip("the PostgreSQL variant covers this")
    assert _hammer(db, org_id, vault) == []
    _assert_one_chain(db, org_id)
