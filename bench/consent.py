"""Benchmark of the consent ledger: recording events and bulk checks, against a set-based floor.

    python bench/consent.py                                  # SQLite in a temporary directory
    python bench/consent.py --database-url postgresql://...  # an empty PostgreSQL database
    python bench/consent.py --events 20000                   # a quicker run

Recording goes through ``privasi.consent.service.record_many`` in transactions of ``--batch``
subjects: each transaction appends the events with their proof, moves the stored projection under
its row locks and writes one audit event. The floor, measured in the same run on the same database
with the same settings: the same number of rows of the same shape, written into the same table
with one set-based insert per transaction of the same size, and read back with one set-based
select. Bulk checks go through ``privasi.consent.service.check`` in calls of 10,000 subjects (the
API's maximum). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "tests" / "consent" / "data" / "toko.yaml"
CHECK_CALL = 10_000


def _settings(tmp: Path, database_url: str) -> Any:
    from privasi.config import Settings

    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=tmp / "var",
        database_url=database_url,
        keystore_url=f"sqlite:///{tmp / 'keys.sqlite'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        secret_key="bench-secret-key-" + "b" * 32,
        worker_in_process=False,
    )


def _fresh_postgres(url: str) -> str:
    """A new database on the server of ``url``, so runs never mix."""
    from privasi.db import normalise_url

    name = f"privasi_bench_{os.getpid()}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(events: int, batch: int, database_url: str | None) -> dict[str, Any]:
    from privasi.consent import service as consent
    from privasi.consent.models import ConsentEvent
    from privasi.db import Database, new_id, utcnow
    from privasi.migrate import upgrade
    from privasi.orgs import service as orgs
    from privasi.policy import service as policies
    from privasi.subjects.models import Subject
    from privasi.vault.service import Vault

    tmp = Path(tempfile.mkdtemp(prefix="privasi-bench-"))
    url = _fresh_postgres(database_url) if database_url else f"sqlite:///{tmp / 'main.sqlite'}"
    settings = _settings(tmp, url)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    vault = Vault.from_settings(settings, db)
    with db.session(system=True) as s:
        org = orgs.create_org(s, "toko-contoh", "Toko Contoh")
    principal = orgs.system_principal(org.id, "bench")
    with db.session(org.id) as s:
        version = policies.create_draft(s, principal, POLICY.read_text())
        policies.publish(s, principal, version)

    # Subjects are set up directly: the benchmark is about consent, not identifier encryption.
    ids = [new_id() for _ in range(events)]
    now = utcnow()
    with db.session(org.id) as s:
        for start in range(0, events, 5000):
            s.execute(
                insert(Subject),
                [
                    {"id": i, "org_id": org.id, "state": "active", "restricted": False,
                     "objections": [], "created_at": now, "updated_at": now}
                    for i in ids[start : start + 5000]
                ],
            )  # fmt: skip

    proof = consent.Proof(
        None, "Saya setuju menerima buletin promosi.", "id", "web", "checkbox",
        "https://toko.example/daftar", "Mozilla/5.0 Firefox/128.0", "203.0.113.0/24",
    )  # fmt: skip

    sha = hashlib.sha256(proof.text.encode()).hexdigest()
    table = ConsentEvent.__table__

    def raw_rows(chunk: list[str]) -> list[dict[str, Any]]:
        stamp = utcnow()
        return [
            {"id": new_id(), "org_id": org.id, "subject_id": sid, "purpose": "raw_floor",
             "seq": 1, "action": "granted", "occurred_at": stamp, "policy_version": 1,
             "text_sha256": sha, "language": "id", "channel": "web", "method": "checkbox",
             "source": proof.source, "user_agent": proof.user_agent,
             "client_addr": proof.client_addr, "guardian_id": None, "actor": principal.actor}
            for sid in chunk
        ]  # fmt: skip

    def raw_insert_batch(rows: list[dict[str, Any]]) -> None:
        """The floor: one set-based INSERT for the transaction, straight to the driver (no ORM,
        no scope checks, no statement compilation): unnest() of one array per column on
        PostgreSQL, one multi-row VALUES list on SQLite."""
        columns = list(rows[0])
        names = ", ".join(columns)
        with db.engine.begin() as conn:
            if db.is_postgres:
                arrays = ", ".join(
                    f"%(c{i})s::{table.c[c].type.compile(dialect=db.engine.dialect)}[]"
                    for i, c in enumerate(columns)
                )
                conn.exec_driver_sql(
                    f"INSERT INTO consent_events ({names}) SELECT * FROM unnest({arrays})",
                    {f"c{i}": [r[c] for r in rows] for i, c in enumerate(columns)},
                )
            else:
                row = "(" + ", ".join("?" * len(columns)) + ")"
                flat = [
                    str(v.replace(tzinfo=None)) if isinstance(v, datetime) else v
                    for r in rows
                    for v in r.values()
                ]
                conn.exec_driver_sql(
                    f"INSERT INTO consent_events ({names}) VALUES {', '.join([row] * len(rows))}",
                    tuple(flat),
                )

    # Service and floor alternate batch by batch, so a neighbour's load on a shared machine
    # falls on both sides of the ratio alike.
    record_s = raw_insert_s = 0.0
    for start in range(0, events, batch):
        chunk = ids[start : start + batch]
        t0 = time.perf_counter()
        with db.session(org.id) as s:
            consent.record_many(s, principal, chunk, "newsletter", "granted", proof)
        t1 = time.perf_counter()
        raw_insert_batch(raw_rows(chunk))
        t2 = time.perf_counter()
        record_s += t1 - t0
        raw_insert_s += t2 - t1

    # Single writes, one transaction each, as a web form or webhook makes them.
    singles = min(2000, events)

    def single() -> None:
        for sid in ids[:singles]:
            with db.session(org.id) as s:
                consent.record_many(s, principal, [sid], "whatsapp_promo", "granted", proof)

    single_s = _timed(single)

    # Checks: every subject, in calls of 10,000; best of three passes per call size.
    def check_all() -> list[float]:
        times = []
        for start in range(0, events, CHECK_CALL):
            chunk = ids[start : start + CHECK_CALL]
            with db.session(org.id) as s:
                t0 = time.perf_counter()
                decisions = consent.check(s, chunk, "newsletter")
                times.append(time.perf_counter() - t0)
                assert all(d.allowed for d in decisions)
        return times

    check_all()  # warm the policy cache and the database's pages
    passes = [check_all() for _ in range(3)]
    per_call = [min(p[i] for p in passes) for i in range(len(passes[0]))]
    check_s = sum(per_call)

    def raw_select() -> None:
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.subject_id, table.c.action).where(table.c.purpose == "raw_floor")
            ).all()
            assert len(rows) == events

    raw_select_s = min(_timed(raw_select) for _ in range(3))
    backend = db.engine.dialect.name
    vault.close()
    db.dispose()
    if database_url:
        from privasi.db import normalise_url

        admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "privasi_bench_{os.getpid()}" WITH (FORCE)')
            )
        admin.dispose()
    return {
        "backend": backend,
        "events": events,
        "batch": batch,
        "record_rate": events / record_s,
        "raw_insert_rate": events / raw_insert_s,
        "single_rate": singles / single_s,
        "check_10k_ms_median": statistics.median(per_call) * 1000,
        "check_10k_ms_max": max(per_call) * 1000,
        "check_all_s": check_s,
        "raw_select_s": raw_select_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000, help="subjects per transaction")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    result = run(args.events, args.batch, args.database_url)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"backend: {result['backend']}, {result['events']:,} events, batch {result['batch']:,}")
    ratio = result["record_rate"] / result["raw_insert_rate"]
    print(
        f"record:  {result['record_rate']:>10,.0f} events/s through the service  "
        f"vs {result['raw_insert_rate']:>10,.0f} rows/s raw insert  = {ratio:.0%} (target >= 30%)"
    )
    print(f"single:  {result['single_rate']:>10,.0f} events/s, one event per transaction")
    print(
        f"check:   {result['check_10k_ms_median']:.0f} ms median per 10,000-subject call "
        f"(max {result['check_10k_ms_max']:.0f} ms; target < 200 ms on SQLite); all "
        f"{result['events']:,} in {result['check_all_s']:.2f} s vs raw select "
        f"{result['raw_select_s']:.2f} s = {result['raw_select_s'] / result['check_all_s']:.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
