"""The statements a sweep runs in a business's database: which rows are due, the next batch's
keys in key order, and the delete or anonymising update of one batch. Built from the reflected
table (``connectors.tables``), with values as parameters; nothing here commits."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from privasi.connectors import tables
from privasi.connectors.tables import Mapped
from privasi.retention import blocks, rules
from privasi.retention.rules import TableTarget

# The function a business's SQLite connection is lent while a window changes its rows.
KEY_FUNCTION = "privasi_retention_key"


def batch_digest(keys: list[Any]) -> str:
    """SHA-256 of a batch's keys in order (JSON): anyone holding the keys can show it."""
    return hashlib.sha256(json.dumps(keys, separators=(",", ":"), default=str).encode()).hexdigest()


def _bound(column: sa.Column[Any], moment: datetime) -> Any:
    """The cut-off as the column stores times: naive UTC where the column keeps no zone."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return moment if kind.timezone else moment.astimezone(UTC).replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return moment.date()
    if isinstance(kind, sa.String):
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return moment


def _token(conn: Connection, column: sa.Column[Any]) -> Any:
    """A random token per row: irreversible because nothing it is derived from is kept."""
    length = getattr(column.type, "length", None) or 21
    size = max(4, min(16, length - len(rules.TOKEN_PREFIX)))
    if conn.dialect.name == "postgresql":
        random_hex = sa.func.substr(
            sa.func.md5(
                sa.cast(sa.func.random(), sa.Text) + sa.cast(sa.func.clock_timestamp(), sa.Text)
            ),
            1,
            size,
        )
    else:
        random_hex = sa.func.substr(sa.func.lower(sa.func.hex(sa.func.randomblob(8))), 1, size)
    return sa.literal(rules.TOKEN_PREFIX) + random_hex


def _is_text(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.String | sa.Text)


def _value(conn: Connection, column: sa.Column[Any], op: str) -> Any:
    if op == "token" and _is_text(column):
        return _token(conn, column)
    if op == "year":
        if conn.dialect.name == "postgresql":
            return sa.cast(sa.func.date_trunc("year", column), column.type)
        return sa.func.substr(column, 1, 4) + sa.literal("-01-01")
    if op == "decade":
        return (column // 10) * 10
    return None


def _pending_rows(target: TableTarget, mapped: Mapped) -> sa.ColumnElement[bool]:
    """Rows of an anonymising target that are not done yet."""
    parts = []
    for name, op in target.markers.items():
        column = mapped.table.c[name]
        if op == "token" and _is_text(column):
            parts.append(sa.and_(column.is_not(None), column.not_like(f"{rules.TOKEN_PREFIX}%")))
        else:
            parts.append(column.is_not(None))
    return sa.or_(*parts)


def _due(
    target: TableTarget,
    mapped: Mapped,
    moment: datetime,
    held_values: list[str],
) -> sa.ColumnElement[bool]:
    stamp = mapped.table.c[target.timestamp]
    parts: list[sa.ColumnElement[bool]] = [stamp.is_not(None), stamp <= _bound(stamp, moment)]
    if target.state_column is not None:
        if target.state_column not in mapped.table.c:
            raise tables.ConnectorError(
                f"column '{mapped.name}.{target.state_column}' does not exist"
            )
        state = mapped.table.c[target.state_column]
        if target.states:
            parts.append(state.in_(target.states))
        if target.unless_states:
            parts.append(sa.or_(state.is_(None), state.not_in(target.unless_states)))
    if held_values:
        parts.append(sa.not_(tables.where(mapped, held_values)))
    if not target.delete_rows:
        parts.append(_pending_rows(target, mapped))
    return sa.and_(*parts)


def _key_expr(mapped: Mapped) -> Any:
    return mapped.key[0] if len(mapped.key) == 1 else sa.tuple_(*mapped.key)


def _next_keys(
    conn: Connection, mapped: Mapped, due: sa.ColumnElement[bool], after: Any, n: int
) -> list[Any]:
    """The next batch's keys in key order: plain values for a one-column key, lists otherwise."""
    query = select(*mapped.key).where(due)
    if after is not None:
        bound = after if len(mapped.key) == 1 else sa.tuple_(*after)
        query = query.where(_key_expr(mapped) > bound)
    query = query.order_by(*mapped.key).limit(n)
    if len(mapped.key) == 1:
        result = conn.execute(query)
        if isinstance(mapped.key[0].type, sa.Integer | sa.String):
            # Integer and text keys need no result processing: read the driver's rows directly
            # (building a Row per key costs more than finding it).
            return [row[0] for row in result.cursor.fetchall()]
        return [tables._plain(v) for v in result.scalars().all()]
    rows = conn.execute(query).all()
    return [[v if isinstance(v, int | str) else tables._plain(v) for v in row] for row in rows]


def _batch(key: str, keys: list[Any], single: bool) -> dict[str, Any]:
    """What the run keeps about the batch being applied: its key range (or its keys, for a
    composite key), how many and their digest, so a replay after a crash is counted exactly."""
    batch: dict[str, Any] = {"target": key, "count": len(keys), "digest": batch_digest(keys)}
    if single:
        batch.update(first=keys[0], last=keys[-1])
    else:
        batch["keys"] = keys
    return batch


def _apply(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    due: sa.ColumnElement[bool],
    batch: dict[str, Any],
) -> int:
    if "above" in batch:
        by_key = _window(mapped, batch["above"], batch["last"])
    elif "keys" not in batch:
        # The batch is every due row between its first and last key (keyset order, the same
        # predicate): a range the primary key's index walks, rather than thousands of parameters.
        column = mapped.key[0]
        by_key = sa.and_(column >= batch["first"], column <= batch["last"])
    else:
        by_key = sa.tuple_(*mapped.key).in_([tuple(k) for k in batch["keys"]])
    return int(conn.execute(_change(conn, target, mapped, by_key, due)).rowcount or 0)


def _change(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    by_key: sa.ColumnElement[bool],
    due: sa.ColumnElement[bool],
) -> Any:
    if target.delete_rows:
        return sa.delete(mapped.table).where(by_key, due)
    values = {
        name: _value(conn, mapped.table.c[name], op)
        for name, op in target.ops.items()
        if op != "keep"
    }
    return sa.update(mapped.table).where(by_key, due).values(values)


def _window(mapped: Mapped, above: int | None, last: int) -> sa.ColumnElement[bool]:
    column = mapped.key[0]
    if above is None:
        return column <= last
    return sa.and_(column > above, column <= last)


def windowed(dialect: str, mapped: Mapped) -> bool:
    """Whether a table can be swept in windows of its key: one integer key, on a database whose
    keys we can list and digest in SQL (SQLite, PostgreSQL)."""
    return (
        len(mapped.key) == 1
        and isinstance(mapped.key[0].type, sa.Integer)
        and dialect in ("sqlite", "postgresql")
    )


def _first_due(
    conn: Connection, mapped: Mapped, due: sa.ColumnElement[bool], above: int | None
) -> int | None:
    """The smallest due key after ``above``: where the next window starts, skipping gaps."""
    column = mapped.key[0]
    query = select(sa.func.min(column)).where(due)
    if above is not None:
        query = query.where(column > above)
    found = conn.scalar(query)
    return None if found is None else int(found)


def _apply_window(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    due: sa.ColumnElement[bool],
    above: int | None,
    last: int,
) -> tuple[int, str] | None:
    """Delete or anonymise every due row with ``above < key <= last`` (a range the key's index
    walks) and return how many and their digest. On PostgreSQL one statement changes the rows
    and aggregates the keys it returned (``blocks.apply``); with Python's sqlite3 the change's own
    walk hands over the keys (``_capture``); another driver gets the exact path. None when the keys
    handed over are not exactly the rows changed: the caller rolls back and asks
    ``_apply_window_returning`` instead."""
    window = _window(mapped, above, last)
    change = _change(conn, target, mapped, window, due)
    if conn.dialect.name == "postgresql":
        count, digest, _ = blocks.apply(conn, change, mapped.key[0])
        return count, digest
    raw = conn.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        return _capture(conn, raw, change, mapped.key[0])
    return _apply_window_returning(conn, target, mapped, due, above, last)


def _capture(
    conn: Connection, raw: sqlite3.Connection, change: Any, key: sa.Column[Any]
) -> tuple[int, str] | None:
    """SQLite: the change's last condition hands each row's key to a function lent to this
    connection for the statement, so the keys come from the one walk that changes the rows
    (a listing first was a second walk costing about half the change; ``RETURNING`` keeps its
    rows in a temporary table). Every changed row passed every condition, so its key was handed
    over; were a key handed over for a row then left unchanged, or twice, the count would differ:
    None then, and the caller redoes the window exactly."""
    keys: list[int] = []
    raw.create_function(KEY_FUNCTION, 1, keys.append, deterministic=False)
    try:
        handed = getattr(sa.func, KEY_FUNCTION)(key).is_(None)
        count = int(conn.execute(change.where(handed)).rowcount or 0)
    finally:
        raw.create_function(KEY_FUNCTION, 1, None)
    if count != len(keys):
        return None
    if not count:
        return 0, ""
    keys.sort()  # already in key order when the walk follows the key: a linear check then
    return count, batch_digest(keys)


def _apply_blocks(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    due: sa.ColumnElement[bool],
    lo: int,
    hi: int,
    *,
    exact: bool = False,
) -> tuple[int, str, int]:
    """PostgreSQL: change the due rows in blocks ``lo`` to ``hi - 1`` (``blocks``); their count,
    digest and the transaction's id. ``exact``: by the keys the change returns, which no
    concurrent change can make differ from the rows changed."""
    window = blocks.window(lo, hi)
    if target.delete_rows and not exact:
        return blocks.listed_delete(conn, mapped.table, sa.and_(window, due), mapped.key[0])
    return blocks.apply(conn, _change(conn, target, mapped, window, due), mapped.key[0])


def _apply_window_returning(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    due: sa.ColumnElement[bool],
    above: int | None,
    last: int,
) -> tuple[int, str]:
    """The same change, its keys returned by the statement itself (slower, always exact)."""
    statement = _change(conn, target, mapped, _window(mapped, above, last), due)
    result = conn.execute(statement.returning(mapped.key[0]))
    keys = sorted(int(row[0]) for row in result.cursor.fetchall())
    return len(keys), batch_digest(keys)


def count_table(
    engine: Engine, target: TableTarget, mapped: Mapped, moment: datetime, held: list[str]
) -> int:
    with engine.connect() as conn:
        query = select(sa.func.count()).select_from(mapped.table)
        return int(conn.scalar(query.where(_due(target, mapped, moment, held))) or 0)
