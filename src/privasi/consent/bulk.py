"""Set-based writes of many ledger and projection rows in one statement.

On PostgreSQL a multi-row ``VALUES`` list of 1,000 rows has 17,000 placeholders, which the driver
parses in Python on every call (statements that long are not cached), and ``executemany`` sends
one statement per row. Instead each column travels as one array and ``unnest`` turns them back
into rows: one short statement per batch, whatever its size. SQLite has neither cost, so there
SQLAlchemy's multi-row inserts are used.

The PostgreSQL path runs on the session's connection, below the tenant-scope listener of
``privasi.db``, so it does that listener's job itself: every row must carry the session's own
organisation, or nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from privasi.db import PrivasiSession
from privasi.errors import UnscopedQueryError


def _pg_type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=postgresql.dialect()))


def insert_rows(
    session: PrivasiSession,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    conflict: list[str] | None = None,
    update: tuple[str, ...] = (),
) -> None:
    """Insert ``rows`` (all with the same keys). With ``conflict`` (the unique columns), rows
    that exist are left alone, or get the ``update`` columns from the new row."""
    if not rows:
        return
    org_id = session.require_org()
    if any(row.get("org_id") != org_id for row in rows):
        raise UnscopedQueryError("refusing to write a row of another organisation")
    if session.get_bind().dialect.name != "postgresql":
        stmt = sqlite.insert(table)
        if conflict is not None and update:
            stmt = stmt.on_conflict_do_update(
                index_elements=conflict, set_={c: stmt.excluded[c] for c in update}
            )
        elif conflict is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=conflict)
        # RETURNING makes SQLAlchemy send multi-row INSERTs ("insertmanyvalues").
        session.execute(stmt.returning(table.c[next(iter(rows[0]))]), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    arrays = ", ".join(f"%(c{i})s::{_pg_type(table, c)}[]" for i, c in enumerate(columns))
    # Names and types come from the table's metadata, never from input; values are bound.
    sql = f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays})'  # noqa: S608
    if conflict is not None:
        target = ", ".join(f'"{c}"' for c in conflict)
        if update:
            sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    params = {f"c{i}": [row[c] for row in rows] for i, c in enumerate(columns)}
    session.connection().exec_driver_sql(sql, params)


def among(session: PrivasiSession, column: Any, ids: list[str]) -> Any:
    """``column IN ids`` with the list as one parameter: an array on PostgreSQL (``= ANY(...)``),
    a JSON text on SQLite; a short statement the driver caches, whatever the list's length."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(String)))
    # SQLite: one JSON text parameter read by json_each, instead of thousands of placeholders.
    values = func.json_each(json.dumps(ids)).table_valued("value")
    return column.in_(select(values.c.value))
