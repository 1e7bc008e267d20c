"""PostgreSQL: a business table swept in windows of its heap's blocks (``ctid`` ranges).

A window ``ctid >= '(lo,0)' AND ctid < '(hi,0)'`` is read by a TID Range Scan (PostgreSQL 14 and
later), so the windows of a run are together one sequential pass over the table, as a single
hand-written ``DELETE`` is; windows of the primary key are each a walk of its index, which costs
about twice as much per row. One statement per window changes the due rows and, from the keys it
returns, gives their count and the SHA-256 of their JSON list in key order (``batch_digest``,
computed by the database: 64 characters come back instead of every key) and the id of its
transaction.

Rows can move: an ``UPDATE`` writes a row's new version elsewhere, ``VACUUM FULL`` or ``CLUSTER``
rewrite the table into a new file. So:

- a batch announced to the run carries its transaction's id; a resumed run asks the database
  whether that transaction committed (``txid_status``) rather than replaying the window, whose
  rows may have moved since. Committed: the batch is recorded with its announced count and
  digest. Aborted: nothing of it happened, and the walk does its rows again;
- a resumed run continues after the last recorded window only if the table is still in the same
  file (``pg_relation_filenode``); otherwise it walks again from the first block. What was done
  is no longer due (deleted, or anonymised and so no longer pending), so nothing is done or
  counted twice;
- the walk ends at the block count the table had when it started: rows written later, and a
  due row that a concurrent update moves behind the walk while the run goes on, are left to the
  next run, where they are still due.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection, Engine

from privasi.connectors.tables import Mapped
from privasi.errors import Conflict

# PostgreSQL's largest number of tuples on an 8 KB page: the most rows a window can hold per
# block when the table's statistics say nothing.
MAX_ROWS_PER_BLOCK = 291
# How long a resumed run waits for a killed process's transaction to be ended by the server.
SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class Shape:
    """The table's heap as the walk starts: its file, its blocks and rows per block."""

    file: int
    blocks: int
    rows_per_block: float


def shape(conn: Connection, mapped: Mapped, batch: int) -> Shape | None:
    """The heap of an ordinary table on PostgreSQL 14 or later with one integer key, when a
    batch holds at least a full block's rows (a window is at least one block); None for
    anything else (a partitioned table, a view, an older server), which keeps key windows."""
    info = conn.dialect.server_version_info or (0,)
    if conn.dialect.name != "postgresql" or tuple(info) < (14,) or batch < MAX_ROWS_PER_BLOCK:
        return None
    if len(mapped.key) != 1 or not isinstance(mapped.key[0].type, sa.Integer):
        return None
    name = conn.dialect.identifier_preparer.format_table(mapped.table)
    row = conn.execute(
        sa.text(
            "SELECT c.relkind, pg_relation_filenode(c.oid), "
            "pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
            "c.reltuples, c.relpages FROM pg_class c WHERE c.oid = to_regclass(:name)"
        ),
        {"name": name},
    ).one_or_none()
    if row is None or row[0] != "r" or row[1] is None:
        return None
    reltuples, relpages = float(row[3] or 0), int(row[4] or 0)
    per_block = reltuples / relpages if reltuples > 0 and relpages > 0 else MAX_ROWS_PER_BLOCK
    return Shape(int(row[1]), int(row[2]), max(1.0, min(per_block, MAX_ROWS_PER_BLOCK)))


def window(lo: int, hi: int) -> sa.ColumnElement[bool]:
    """The rows whose current version lies in blocks ``lo`` to ``hi - 1``."""
    return sa.text(
        "ctid >= CAST(:privasi_lo AS tid) AND ctid < CAST(:privasi_hi AS tid)"
    ).bindparams(privasi_lo=f"({lo},0)", privasi_hi=f"({hi},0)")  # type: ignore[return-value]


class Moved(Exception):
    """A listed row changed before the window's DELETE reached it (a serialization failure)."""


def _summary(key: Any) -> list[Any]:
    """Count, SHA-256 of the keys' JSON list in key order (``batch_digest``), transaction id."""
    keys = sa.func.array_agg(aggregate_order_by(key, key))
    text = sa.literal("[") + sa.func.array_to_string(keys, ",") + sa.literal("]")
    digest = sa.func.encode(sa.func.sha256(sa.func.convert_to(text, "UTF8")), "hex")
    return [sa.func.count(), digest, sa.func.txid_current()]


def _result(row: Any) -> tuple[int, str, int]:
    return int(row[0] or 0), str(row[1] or ""), int(row[2])


def apply(conn: Connection, change: Any, key: sa.Column[Any]) -> tuple[int, str, int]:
    """Run the window's change and return how many rows it changed, the SHA-256 of their keys
    and its transaction's id, from the keys the change returns (an UPDATE returns them from the
    row versions it just wrote)."""
    changed = change.returning(key.label("k")).cte("changed")
    return _result(conn.execute(sa.select(*_summary(changed.c.k)).select_from(changed)).one())


def listing(
    conn: Connection, table: sa.Table, where: sa.ColumnElement[bool], key: sa.Column[Any]
) -> tuple[int, str, int]:
    """The due rows' count and digest, without changing them."""
    return _result(conn.execute(sa.select(*_summary(key)).select_from(table).where(where)).one())


def listed_delete(
    conn: Connection, table: sa.Table, where: sa.ColumnElement[bool], key: sa.Column[Any]
) -> tuple[int, str, int]:
    """Delete the window's due rows, their keys listed first by a second TID Range Scan in the
    same snapshot (``REPEATABLE READ``): cheaper than ``DELETE ... RETURNING``, which fetches
    each deleted row again and keeps the keys in a temporary store. The same snapshot and the
    same conditions mean the same rows; a listed row changed since by someone else makes the
    DELETE fail rather than skip it (``Moved``: the caller rolls back and uses ``apply``)."""
    conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    found = listing(conn, table, where, key)
    if not found[0]:
        return found
    try:
        deleted = int(conn.execute(sa.delete(table).where(where)).rowcount or 0)
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "40001":
            raise Moved from None
        raise
    if deleted != found[0]:
        raise Moved
    return found


def settled(engine: Engine, xid: int) -> bool | None:
    """Whether the announced batch's transaction committed; None when the server no longer
    knows (a transaction older than its commit log, after a very long pause). A killed
    process's transaction is ended by the server when its connection drops; until then this
    waits, and gives up with ``Conflict`` (the run is resumed later)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with engine.connect() as conn:
            status = conn.scalar(sa.text("SELECT txid_status(:xid)"), {"xid": xid})
        if status is None:
            return None
        if status != "in progress":
            return status == "committed"
        if time.monotonic() > deadline:
            raise Conflict("the last batch's transaction is still open in the business database")
        time.sleep(0.2)
