"""Benchmark of a retention sweep in a business's database, against a hand-written floor.

    python bench/retention.py                         # 2,000,000 rows, 30% expired, SQLite files
    python bench/retention.py --action anonymise      # the same rows anonymised instead of deleted
    python bench/retention.py --external-url postgresql://USER@HOST:PORT/postgres

The business's table ``events`` (id, email, note, created_at) is declared in a policy as an
``sql`` system with one retention rule (category ``events``, one year after ``collected``).
``--rows`` rows are written, ``--expired`` of them (spread evenly) older than the cut-off. The
table is made once, then copied (a file copy on SQLite, ``CREATE TABLE ... (LIKE ...)`` and
``INSERT ... SELECT`` on PostgreSQL) so both sides start from the same rows and indexes.

- *Sweep*: ``privasi.retention.service.run_rule`` as the worker runs it: windows holding about
  ``TABLE_BATCH_ROWS`` due rows (of heap blocks on PostgreSQL, of the key on SQLite); per window,
  one DELETE (or UPDATE with random tokens) and the count and SHA-256 of the keys it changed, the
  batch announced to the run in privasi's database before the business's commit, each window
  its own transaction; evidence in the audit chain at the end.
- *Batched by hand*: bounded batches written by hand (one statement over a window of blocks on
  PostgreSQL, of keys on SQLite, one transaction each) with no bookkeeping and no digest: what
  batching itself costs.
- *Floor*: one hand-written statement, ``DELETE FROM events WHERE created_at <= :cutoff`` (or
  the same UPDATE), in one transaction, through an engine made the same way (same driver, same
  journal and synchronous settings: SQLAlchemy's defaults, as the connector uses them).

Peak RSS is the process's maximum resident set (``ru_maxrss``), taken after each side. Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CHUNK = 50_000


def _policy(slug: str, table: str) -> str:
    doc = {
        "effective_date": "2026-01-01",
        "organisation": {
            "slug": slug,
            "legal_name": "PT Bangku Contoh",
            "role": "controller",
            "contacts": {"privacy_email": "privasi@bangku.example"},
            "supervisory_authority": {"name": {"id": "Lembaga PDP", "en": "PDP Agency"}},
        },
        "categories": [
            {
                "id": "events",
                "name": {"id": "Log kejadian", "en": "Event log"},
                "sources": ["subject"],
            }
        ],
        "subjects": [{"id": "customer", "name": {"id": "Pelanggan", "en": "Customer"}}],
        "purposes": [
            {
                "id": "service",
                "name": {"id": "Layanan", "en": "Service"},
                "description": {"id": "Menjalankan layanan", "en": "Running the service"},
                "legal_basis": "contract",
                "categories": ["events"],
            }
        ],
        "systems": [
            {
                "id": "app",
                "name": "Application database",
                "kind": "sql",
                "credential": "app_db",
                "tables": [
                    {
                        "name": table,
                        "identity_column": "email",
                        "columns": [
                            {"name": "email", "category": "events", "erasure": "hash"},
                            {"name": "note", "category": "events", "erasure": "null"},
                        ],
                        "timestamps": {"collected": "created_at"},
                    }
                ],
            }
        ],
        "retention": {
            "rules": [
                {"id": "events", "categories": ["events"], "period": "P1Y", "start": "collected"}
            ]
        },
        "rights": {"channels": ["email"], "verification": ["email_code"]},
        "minors": {"minimum_age": 18},
        "security": {"measures": ["encryption_at_rest"]},
        "breach": {"contacts": ["privasi@bangku.example"], "channels": ["email"]},
        "changes": {"channels": ["email"]},
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _events(schema: str | None) -> sa.Table:
    return sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200)),
        sa.Column("note", sa.String(200)),
        sa.Column("created_at", sa.DateTime),
        schema=schema,
    )


def _fill(url: str, schema: str | None, rows: int, expired: float, index: bool) -> None:
    """``rows`` rows; every row whose index falls in the expired share is two years old."""
    old, fresh = datetime(2024, 1, 15, 10, 0), datetime(2026, 5, 1, 10, 0)
    engine = sa.create_engine(url)
    table = _events(schema)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        table.create(conn)
        if index:
            sa.Index("ix_events_created_at", table.c.created_at).create(conn)
    if url.startswith("sqlite"):
        # Plain sqlite3 for the fill: the benchmark is the sweep, not the writing of the rows.
        path = url.removeprefix("sqlite:///")
        raw = sqlite3.connect(path)
        for start in range(1, rows + 1, CHUNK):
            batch = [
                (
                    i,
                    f"pelanggan{i}@contoh.example",
                    f"catatan kunjungan {i}",
                    (old if _is_old(i, rows, expired) else fresh).isoformat(sep=" "),
                )
                for i in range(start, min(start + CHUNK, rows + 1))
            ]
            raw.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", batch)
            raw.commit()
        raw.close()
    else:
        name = f'"{schema}".events'
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {name} SELECT i, 'pelanggan' || i || '@contoh.example', "
                    "'catatan kunjungan ' || i, CASE WHEN (i * :share)::int <> ((i - 1) * :share)::int "
                    "THEN :old ELSE :fresh END FROM generate_series(1, :rows) AS i"
                ),
                {"rows": rows, "share": expired, "old": old, "fresh": fresh},
            )
            conn.execute(sa.text(f"ANALYZE {name}"))
    engine.dispose()


def _is_old(i: int, rows: int, share: float) -> bool:
    # The same spread as the PostgreSQL fill: row i is old when i * share crosses an integer.
    return int(i * share) != int((i - 1) * share)


def _copy(url: str, schema: str | None, tmp: Path, name: str) -> tuple[str, str | None]:
    """A fresh copy of the base table, with the same indexes, named ``name``."""
    if url.startswith("sqlite"):
        source = Path(url.removeprefix("sqlite:///"))
        target = tmp / f"{name}.sqlite"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}", None
    other = f"{schema}_{name}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{other}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{other}"'))
        conn.execute(
            sa.text(f'CREATE TABLE "{other}".events (LIKE "{schema}".events INCLUDING ALL)')
        )
        conn.execute(sa.text(f'INSERT INTO "{other}".events SELECT * FROM "{schema}".events'))
        conn.execute(sa.text(f'ANALYZE "{other}".events'))
    engine.dispose()
    return url, other


def _floor(url: str, schema: str | None, action: str, cutoff: datetime) -> tuple[float, int]:
    engine = sa.create_engine(url)
    table = _events(schema)
    bound = cutoff.replace(tzinfo=None)
    started = time.perf_counter()
    with engine.begin() as conn:
        if action == "delete":
            result = conn.execute(sa.delete(table).where(table.c.created_at <= bound))
        else:
            if conn.dialect.name == "postgresql":
                token = sa.literal("anon-") + sa.func.substr(
                    sa.func.md5(sa.cast(sa.func.random(), sa.Text)), 1, 16
                )
            else:
                token = sa.literal("anon-") + sa.func.lower(sa.func.hex(sa.func.randomblob(8)))
            result = conn.execute(
                sa.update(table)
                .where(table.c.created_at <= bound, table.c.email.not_like("anon-%"))
                .values(email=token, note=None)
            )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, int(result.rowcount or 0)


def _batched_floor(
    url: str, schema: str | None, action: str, cutoff: datetime, batch: int, share: float
) -> tuple[float, int]:
    """The same work written by hand in bounded batches (one statement over a window of keys
    holding about ``batch`` due rows, one transaction each), with no bookkeeping and no digest:
    what batching itself costs."""
    engine = sa.create_engine(url)
    table = _events(schema)
    bound = cutoff.replace(tzinfo=None)
    due = sa.and_(table.c.created_at.is_not(None), table.c.created_at <= bound)
    if action == "anonymise":
        due = sa.and_(due, table.c.email.not_like("anon-%"))
    started, done = time.perf_counter(), 0
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if pg:
            # Windows of heap blocks, as the sweep takes on PostgreSQL 14 and later.
            name = conn.dialect.identifier_preparer.format_table(table)
            top = int(
                conn.scalar(sa.text("SELECT pg_relation_size(to_regclass(:n)) / 8192"), {"n": name})
                or 0
            )
            # The row count from the statistics (the copy was just analysed): counting the
            # rows here would be one more pass over the table.
            rows = int(
                conn.scalar(
                    sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:n)"),
                    {"n": name},
                )
                or 1
            )
            width = max(1, int(batch / (share * rows / max(top, 1))))
        else:
            top = int(conn.scalar(sa.select(sa.func.max(table.c.id))) or 0)
            width = max(1, int(batch / share))
    for above in range(0, top, width):
        if pg:
            where = sa.and_(
                sa.text(f"ctid >= '({above},0)'::tid AND ctid < '({above + width},0)'::tid"), due
            )
        else:
            where = sa.and_(table.c.id > above, table.c.id <= above + width, due)
        with engine.begin() as conn:
            if action == "delete":
                done += conn.execute(sa.delete(table).where(where)).rowcount or 0
            else:
                pg = conn.dialect.name == "postgresql"
                token = sa.literal("anon-") + (
                    sa.func.substr(sa.func.md5(sa.cast(sa.func.random(), sa.Text)), 1, 16)
                    if pg
                    else sa.func.lower(sa.func.hex(sa.func.randomblob(8)))
                )
                statement = sa.update(table).where(where).values(email=token, note=None)
                done += conn.execute(statement).rowcount or 0
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, done


def _count(url: str, schema: str | None, action: str) -> int:
    engine = sa.create_engine(url)
    table = _events(schema)
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        if action == "anonymise":
            query = query.where(table.c.email.not_like("anon-%"))
        found = int(conn.scalar(query) or 0)
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--expired", type=float, default=0.3)
    parser.add_argument("--action", choices=("delete", "anonymise"), default="delete")
    parser.add_argument(
        "--batch", type=int, default=None, help="rows per batch (default TABLE_BATCH_ROWS)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="fresh copies, sides alternated")
    parser.add_argument("--index", action="store_true", help="index the timestamp column")
    parser.add_argument("--external-url", default=None, help="the business's database (PostgreSQL)")
    parser.add_argument("--database-url", default=None, help="privasi's own database")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from privasi.config import Settings
    from privasi.connectors import tables
    from privasi.db import Database
    from privasi.migrate import upgrade
    from privasi.orgs import service as orgs
    from privasi.policy import service as policies
    from privasi.retention import rules, service, sweep
    from privasi.vault.service import Vault, set_secret

    tmp = Path(tempfile.mkdtemp(prefix="privasi-bench-retention-"))
    schema = None
    try:
        settings = Settings(
            _env_file=None,
            env="test",
            data_dir=tmp / "var",
            database_url=args.database_url or f"sqlite:///{tmp / 'privasi.sqlite'}",
            keystore_url=f"sqlite:///{tmp / 'keys.sqlite'}",
            master_key=base64.b64encode(os.urandom(32)).decode(),
            secret_key="bench-secret-key-" + "b" * 32,
            worker_in_process=False,
            # the business databases here are local files or the same server
            connector_local_databases=True,
        )
        if args.external_url:
            base_url, schema = args.external_url, f"bench_{uuid.uuid4().hex[:8]}"
        else:
            base_url = f"sqlite:///{tmp / 'base.sqlite'}"
        upgrade(settings.db_url)
        db = Database(settings.db_url)
        vault = Vault.from_settings(settings, db)
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        t = time.perf_counter()
        _fill(base_url, schema, args.rows, args.expired, args.index)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - t:.1f} s")
        url, sweep_schema = _copy(base_url, schema, tmp, "sweep")

        with db.session(system=True) as s:
            org_id = orgs.create_org(s, "bangku-contoh", "Bangku Contoh").id
        table_name = f"{sweep_schema}.events" if sweep_schema else "events"
        with db.session(org_id) as s:
            principal = orgs.system_principal(org_id, "bench")
            source = _policy("bangku-contoh", table_name)
            if args.action == "anonymise":
                source = source.replace(
                    "start: collected", "start: collected\n    action: anonymise"
                )
            version = policies.create_draft(s, principal, source)
            policies.publish(s, principal, version)
            set_secret(s, principal, "app_db", url)
            policy = policies.current_policy(s)
        rule = policy.retention.rules[0]
        cutoff = rules.cutoff(rule, NOW)
        expected = sum(1 for i in range(1, args.rows + 1) if _is_old(i, args.rows, args.expired))
        if args.batch:
            sweep.TABLE_BATCH_ROWS = args.batch

        sweeps: list[float] = []
        floors: list[float] = []
        batcheds: list[float] = []
        for round_ in range(args.rounds):
            if round_:
                tables.dispose_all()  # the sweep's copy is replaced under its engine
                url, sweep_schema = _copy(base_url, schema, tmp, "sweep")
            floor_url, floor_schema = _copy(base_url, schema, tmp, "floor")
            batched_url, batched_schema = _copy(base_url, schema, tmp, "batched")
            # Rotate which side goes first, so none always meets a warmer cache.
            sides = ["floor", "sweep", "batched"]
            for side in sides[round_ % 3 :] + sides[: round_ % 3]:
                if side == "batched":
                    batched_s, batched_n = _batched_floor(
                        batched_url,
                        batched_schema,
                        args.action,
                        cutoff,
                        sweep.TABLE_BATCH_ROWS,
                        args.expired,
                    )
                    batcheds.append(batched_s)
                    assert batched_n == expected, (batched_n, expected)
                elif side == "floor":
                    floor_s, floor_n = _floor(floor_url, floor_schema, args.action, cutoff)
                    floors.append(floor_s)
                else:
                    t = time.perf_counter()
                    run = service.run_rule(
                        db, org_id, "events", now=NOW, owner="bench", actor="bench"
                    )
                    sweeps.append(time.perf_counter() - t)
            done = run.deleted + run.anonymised
            left_sweep = _count(url, sweep_schema, args.action)
            left_floor = _count(floor_url, floor_schema, args.action)
            assert done == floor_n == expected, (done, floor_n, expected)
            assert left_sweep == left_floor == args.rows - expected, (left_sweep, left_floor)
            print(
                f"round {round_ + 1}: sweep {sweeps[-1]:.2f} s, floor {floors[-1]:.2f} s, "
                f"ratio {sweeps[-1] / floors[-1]:.2f}x; batched by hand {batcheds[-1]:.2f} s"
            )

        sweep_s, floor_s = statistics.median(sweeps), statistics.median(floors)
        backend = "PostgreSQL" if schema else f"SQLite {sqlite3.sqlite_version}"
        print(f"python {platform.python_version()}, {platform.machine()}, business db: {backend}")
        print(
            f"rows {args.rows:,}, expired {expected:,} ({args.action}), batch {sweep.TABLE_BATCH_ROWS}"
        )
        print(f"sweep  {sweep_s:8.2f} s  median ({run.batches} batches, digest {run.digest[:16]})")
        print(f"floor  {floor_s:8.2f} s  median (one statement, one transaction)")
        print(f"ratio  {sweep_s / floor_s:8.2f}x  (target <= 1.5x)")
        batched_s = statistics.median(batcheds)
        print(
            f"hand-written batches {batched_s:.2f} s median: {batched_s / floor_s:.2f}x the floor; "
            f"the sweep is {sweep_s / batched_s:.2f}x that"
        )
        print(f"peak RSS {_rss_mb():.0f} MB (whole process; target < 300 MB)")
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        vault.close()
        db.dispose()
        tables.dispose_all()
    finally:
        if schema:
            engine = sa.create_engine(args.external_url)
            with engine.begin() as conn:
                for suffix in ("", "_floor", "_sweep", "_batched"):
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}{suffix}" CASCADE'))
            engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
