"""Benchmark of the sql connector: erasing subjects in a business's database, against the floor.

    python bench/rights.py                       # 100,000 customers, SQLite files, a few minutes
    python bench/rights.py --rows 1000000        # the full size of issue 8
    python bench/rights.py --external-url postgresql://...  # the business's database on PostgreSQL

The business's database (the Toko Contoh policy of ``tests/connectors/data/toko.yaml``): ``--rows``
customers, two orders and two chat messages per customer, indexed on the identity columns. Erasure
of ``--subjects`` customers goes through privasi: one ``rights.execute`` task per system, run the
way the worker runs a batch of claimed jobs (``privasi.rights.runner.run_batch`` over groups of
``worker.CLAIM_BATCH`` requests: first keys looked up for the whole group, batches keyed by primary
key, progress committed in privasi's database, customers deleted, orders' e-mail hashed with the
keyed HMAC, address masked, items emptied and invoice numbers kept, chats deleted). The floor, in the same run on an
identical copy of the database with the same indexes: hand-written statements doing the same to
the same rows with the same commit granularity (one transaction per subject and table: DELETE
customers, select + UPDATE orders with the same hash and mask, DELETE chats). Then an access
export for one customer with ``--export-rows`` rows (half orders, half chats): the connector's
read, the sealed records and the ZIP. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "tests" / "connectors" / "data" / "toko.yaml"
CHUNK = 20_000
ROUNDS = 25
WHEN = datetime(2026, 3, 1, 9, 30)


def _settings(tmp: Path, database_url: str | None) -> Any:
    from privasi.config import Settings

    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp / "var",
        database_url=database_url or f"sqlite:///{tmp / 'privasi.sqlite'}",
        keystore_url=f"sqlite:///{tmp / 'keys.sqlite'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        secret_key="bench-secret-key-" + "b" * 32,
        worker_in_process=False,
        # the business databases here are local files or the same server
        connector_local_databases=True,
        rights_erasure_cancel_hours=0,
    )


def _email(i: int) -> str:
    return f"pelanggan{i}@contoh.example"


def _phone(i: int) -> str:
    return f"+62812{i:07d}"


def _tables(schema: str | None) -> dict[str, sa.Table]:
    md = sa.MetaData()
    return {
        "customers": sa.Table(
            "customers",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("email", sa.String(200), index=True),
            sa.Column("name", sa.String(200)),
            sa.Column("phone", sa.String(40)),
            sa.Column("created_at", sa.DateTime),
            schema=schema,
        ),
        "orders": sa.Table(
            "orders",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("customer_email", sa.String(200), index=True),
            sa.Column("address", sa.String(300)),
            sa.Column("items", sa.String(300)),
            sa.Column("invoice_no", sa.String(40)),
            sa.Column("created_at", sa.DateTime),
            schema=schema,
        ),
        "chats": sa.Table(
            "chats",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("wa_number", sa.String(40), index=True),
            sa.Column("message", sa.Text),
            sa.Column("sent_at", sa.DateTime),
            schema=schema,
        ),
    }


def _fill(url: str, schema: str | None, rows: int, big: int, export_rows: int) -> None:
    """The business's database; customer ``big`` has ``export_rows`` orders and chats."""
    engine = sa.create_engine(url)
    t = _tables(schema)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for table in t.values():
            table.create(conn)
    order_id = chat_id = 0
    for start in range(0, rows, CHUNK):
        ids = range(start, min(rows, start + CHUNK))
        customers, orders, chats = [], [], []
        for i in ids:
            customers.append(
                {
                    "id": i,
                    "email": _email(i),
                    "name": f"Pelanggan {i}",
                    "phone": f"0812{i:07d}",
                    "created_at": WHEN,
                }
            )
            many = export_rows // 2 if i == big else 2
            for n in range(many):
                order_id += 1
                orders.append(
                    {
                        "id": order_id,
                        "customer_email": _email(i),
                        "address": f"Jl. Melati No. {n}, Bandung",
                        "items": "Kopi susu x2",
                        "invoice_no": f"INV-{order_id:08d}",
                        "created_at": WHEN,
                    }
                )
                chat_id += 1
                chats.append(
                    {
                        "id": chat_id,
                        "wa_number": f"0812{i:07d}",
                        "message": "Halo kak, pesanan saya sudah sampai?",
                        "sent_at": WHEN,
                    }
                )
        with engine.begin() as conn:
            conn.execute(t["customers"].insert(), customers)
            conn.execute(t["orders"].insert(), orders)
            conn.execute(t["chats"].insert(), chats)
    engine.dispose()


def _copy(url: str, schema: str | None, tmp: Path, name: str) -> tuple[str, str | None]:
    """An identical database for the floor: a file copy on SQLite, a schema copy otherwise."""
    if url.startswith("sqlite"):
        source = Path(sa.engine.make_url(url).database or "")
        target = tmp / f"{name}.sqlite"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}", None
    other = f"{name}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other}"'))
        for name, table in _tables(other).items():
            table.create(conn)
            conn.execute(sa.text(f'INSERT INTO "{other}".{name} SELECT * FROM "{schema}".{name}'))
    engine.dispose()
    return url, other


def _floor(engine: sa.Engine, schema: str | None, subjects: list[int], key: bytes) -> float:
    """Hand-written statements, one transaction per subject and table."""
    from privasi.connectors.tables import mask

    t = _tables(schema)
    orders = t["orders"]
    update = (
        sa.update(orders)
        .where(orders.c.id == sa.bindparam("k"))
        .values(customer_email=sa.bindparam("e"), address=sa.bindparam("a"), items=None)
    )
    start = time.perf_counter()
    for i in subjects:
        email, phone = _email(i), _phone(i)
        hashed = "h1:" + hmac.new(key, email.encode(), hashlib.sha256).hexdigest()
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(orders.c.id, orders.c.address).where(orders.c.customer_email == email)
            ).all()
            if rows:
                conn.execute(update, [{"k": r.id, "e": hashed, "a": mask(r.address)} for r in rows])
        with engine.begin() as conn:
            conn.execute(sa.delete(t["customers"]).where(t["customers"].c.email == email))
        with engine.begin() as conn:
            local = ["0" + phone[3:], phone, phone[1:]]
            conn.execute(sa.delete(t["chats"]).where(t["chats"].c.wa_number.in_(local)))
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="privasi-bench-rights-"))
    made: list[tuple[str, str]] = []
    try:
        for name in ("external_url", "database_url"):
            url = getattr(args, name)
            if url and not url.startswith("sqlite"):
                setattr(args, name, _fresh_postgres(url, f"privasi_bench_{name[:3]}_{os.getpid()}"))
                made.append((url, getattr(args, name)))
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        from privasi.connectors.tables import dispose_all

        dispose_all()
        for server, url in made:
            _drop_postgres(server, url)


def _fresh_postgres(url: str, name: str) -> str:
    """A new database on the server of ``url``, so runs never mix."""
    from privasi.db import normalise_url

    admin = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    made = sa.engine.make_url(normalise_url(url)).set(database=name)
    return made.render_as_string(hide_password=False)


def _drop_postgres(server: str, url: str) -> None:
    from privasi.db import normalise_url

    name = sa.engine.make_url(url).database
    admin = sa.create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import privasi.connectors.sql as sql_connector
    from privasi.db import Database
    from privasi.migrate import upgrade
    from privasi.orgs import service as orgs
    from privasi.policy import service as policies
    from privasi.rights import execution
    from privasi.rights import service as rights
    from privasi.rights.export import build_export
    from privasi.rights.models import RequestTask
    from privasi.subjects import service as subjects
    from privasi.vault.service import Vault, set_secret
    from privasi.worker import CLAIM_BATCH

    settings = _settings(tmp, args.database_url)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    vault = Vault.from_settings(settings, db)
    external = args.external_url or f"sqlite:///{tmp / 'shop.sqlite'}"
    schema = None if external.startswith("sqlite") else f"bench_{uuid.uuid4().hex[:8]}"
    step = max(1, args.rows // args.subjects)
    chosen = list(range(0, step * args.subjects, step))[: args.subjects]
    big = chosen[-1] + 1 if chosen[-1] + 1 < args.rows else chosen[-1] - 1

    started = time.perf_counter()
    _fill(external, schema, args.rows, big, args.export_rows)
    floor_url, floor_schema = _copy(external, schema, tmp, "floor")
    fill_seconds = time.perf_counter() - started

    prefix = f"{schema}." if schema else ""
    policy = POLICY.read_text()
    # The tests' policy also has a reviews table found through customers; this database has none.
    cut_from = policy.index("      - name: SCHEMA_SHOP.reviews")
    cut_to = policy.index("  - id: chat\n", cut_from)
    policy = policy[:cut_from] + policy[cut_to:]
    policy = policy.replace("SCHEMA_SHOP.", prefix).replace("SCHEMA_CHAT.", prefix)
    task_url, task_schema = _copy(external, schema, tmp, "tasks")

    def organisation(slug: str, url: str, table_prefix: str) -> tuple[str, Any, list[Any]]:
        source = policy.replace("slug: toko-contoh", f"slug: {slug}")
        source = source.replace(prefix + "customers", table_prefix + "customers")
        source = source.replace(prefix + "orders", table_prefix + "orders")
        source = source.replace(prefix + "chats", table_prefix + "chats")
        with db.session(system=True) as s:
            org = orgs.create_org(s, slug, slug.title(), role="controller")
        principal = orgs.system_principal(org.id, "bench")
        with db.session(org.id) as s:
            policies.publish(s, principal, policies.create_draft(s, principal, source))
            set_secret(s, principal, "shop_db", url)
            set_secret(s, principal, "chat_db", url)
        made = []
        with db.session(org.id) as s:
            for i in chosen:
                person = subjects.find_or_create(
                    s, principal, {"email": _email(i), "phone": _phone(i)}
                )
                request = rights.submit(
                    s, principal, type="erasure", channel="api", subject_id=person.id
                )
                rights.mark_verified(s, principal, request, "staff_review", "bench")
                ids = [t.id for t in rights.tasks_of(s, request) if t.kind == "sql"]
                made.append((request.id, ids))
        return org.id, principal, made

    org_id, principal, requests = organisation("toko-contoh", external, prefix)
    _, _, task_requests = organisation(
        "toko-tugas", task_url, f"{task_schema}." if task_schema else ""
    )

    # Same HMAC key on the floor's side as the connector's, so both write the same bytes.
    with db.session(org_id) as s:
        key = sql_connector.hash_key(s, policies.current_policy(s).system("shop"))

    def groups(batch: list[Any]) -> list[list[Any]]:
        """The round cut as the worker claims jobs: up to ``CLAIM_BATCH`` per call."""
        return [batch[i : i + CLAIM_BATCH] for i in range(0, len(batch), CLAIM_BATCH)]

    def connector(batch: list[tuple[str, list[str]]]) -> float:
        """The requests' sql tasks through ``runner.run_batch``, the call a worker's batch of
        ``rights.execute`` jobs makes for them: lock, first keys, the business's transactions,
        status and one audit event per task."""
        start = time.perf_counter()
        for group in groups(batch):
            left = execution.run_batch(db, org_id, dict(group))
            if any(left.values()):
                raise SystemExit("a connector task failed; see the task's last_error")
        return time.perf_counter() - start

    def whole_jobs(batch: list[tuple[str, list[str]]]) -> float:
        """The whole jobs (another copy): ``execution.run_many``, what the worker's batch handler
        calls: the sql tasks, then privasi's own erasure (the key shredded) and the request
        completed."""
        start = time.perf_counter()
        for group in groups(batch):
            outcomes = execution.run_many(db, [request_id for request_id, _ in group])
            if any(isinstance(o, BaseException) for o in outcomes.values()):
                raise SystemExit("a rights job failed")
        return time.perf_counter() - start

    # Interleaved rounds, so a burst of load from other processes (a shared machine, disks
    # that fsync for everyone) hits the three alike.
    floor_engine = sa.create_engine(floor_url)
    connector_seconds = task_seconds = floor_seconds = 0.0
    # This process's CPU time (the thread's): what load from other processes does not inflate.
    connector_cpu = floor_cpu = 0.0
    size = max(1, min(len(chosen) // ROUNDS, 2 * CLAIM_BATCH))
    for at in range(0, len(chosen), size):
        cpu = time.thread_time()
        connector_seconds += connector(requests[at : at + size])
        connector_cpu += time.thread_time() - cpu
        task_seconds += whole_jobs(task_requests[at : at + size])
        cpu = time.thread_time()
        floor_seconds += _floor(floor_engine, floor_schema, chosen[at : at + size], key)
        floor_cpu += time.thread_time() - cpu
    floor_engine.dispose()

    # Both databases must now hold the same rows.
    # (The rights-task copy belongs to another organisation, whose HMAC key differs.)
    for url, other_schema in ((floor_url, floor_schema), (task_url, task_schema)):
        check, other = sa.create_engine(external), sa.create_engine(url)
        for name in ("customers", "orders", "chats"):
            mine: Any = _tables(schema)[name]
            theirs: Any = _tables(other_schema)[name]
            if url == task_url:
                mine = sa.select(*(c for c in mine.c if c.name != "customer_email")).subquery()
                theirs = sa.select(*(c for c in theirs.c if c.name != "customer_email")).subquery()
            with check.connect() as a, other.connect() as b:
                left = a.execute(sa.select(mine).order_by(mine.c.id)).all()
                right = b.execute(sa.select(theirs).order_by(theirs.c.id)).all()
            if left != right:
                raise SystemExit(f"the copies disagree on {name} after erasure")
        check.dispose()
        other.dispose()

    with db.session(org_id) as s:
        person = subjects.find_or_create(s, principal, {"email": _email(big), "phone": _phone(big)})
        request = rights.submit(s, principal, type="access", channel="api", subject_id=person.id)
        rights.mark_verified(s, principal, request, "staff_review", "bench")
        task_ids = [t.id for t in rights.tasks_of(s, request) if t.kind == "sql"]
    start = time.perf_counter()
    for task_id in task_ids:
        execution._run_one(db, org_id, request.id, task_id)
    with db.session(org_id) as s:
        request = rights.get_request(s, request.id)
        archive = build_export(s, request, "id")
        records = sum(
            int((t.result or {}).get("records", 0))
            for t in s.scalars(sa.select(RequestTask).where(RequestTask.request_id == request.id))
        )
    export_seconds = time.perf_counter() - start
    vault.close()
    db.dispose()
    return {
        "rows": args.rows,
        "subjects": len(chosen),
        "fill_seconds": fill_seconds,
        "connector_seconds": connector_seconds,
        "floor_seconds": floor_seconds,
        "connector_cpu": connector_cpu,
        "floor_cpu": floor_cpu,
        "ratio": connector_seconds / floor_seconds,
        "task_seconds": task_seconds,
        "task_ratio": task_seconds / floor_seconds,
        "export_rows": args.export_rows,
        "export_records": records,
        "export_bytes": len(archive),
        "export_seconds": export_seconds,
        "external": sa.engine.make_url(external).get_backend_name(),
        "privasi_db": sa.engine.make_url(settings.db_url).get_backend_name(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="customers (full size 1000000)")
    parser.add_argument("--subjects", type=int, default=1000, help="customers to erase")
    parser.add_argument(
        "--export-rows", type=int, default=10_000, help="rows of the export's subject"
    )
    parser.add_argument("--external-url", help="the business's database (default: SQLite file)")
    parser.add_argument("--database-url", help="privasi's own database (default: SQLite file)")
    args = parser.parse_args()
    result = run(args)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(
        f"external database {result['external']}, privasi database {result['privasi_db']}, "
        f"{result['rows']:,} customers (+{2 * result['rows']:,} orders, chats), "
        f"filled in {result['fill_seconds']:.1f} s"
    )
    print(
        f"erase {result['subjects']} subjects: connector {result['connector_seconds']:.2f} s, "
        f"floor {result['floor_seconds']:.2f} s, ratio {result['ratio']:.2f}x (target <= 2x)"
    )
    print(
        f"  this process's CPU: connector {result['connector_cpu']:.2f} s, "
        f"floor {result['floor_cpu']:.2f} s"
    )
    print(
        f"  as whole rights jobs (the sql tasks, privasi's own erasure, completion): "
        f"{result['task_seconds']:.2f} s, ratio {result['task_ratio']:.2f}x"
    )
    print(
        f"access export, subject with {result['export_rows']:,} rows: "
        f"{result['export_records']:,} records, {result['export_bytes']:,} bytes ZIP, "
        f"{result['export_seconds']:.2f} s (target < 2 s)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
