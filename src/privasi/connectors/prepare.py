"""The ``sql`` connector's preparer: what a worker's batch of requests looks up in the business's
databases before any change, for all its subjects at once.

Every table's first batch of keys of every sql erasure and correction of the batch (one
organisation) is found with one statement per table (``tables.first_keys_many``) and recorded in
the tasks for the runner's one commit (``privasi.rights.runner``); the tasks then apply those
batches as ``privasi.connectors.sql`` describes, so a kill at any point still replays at most a
recorded batch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from privasi.connectors import sql, tables
from privasi.connectors.sql import Work
from privasi.connectors.tables import ConnectorError
from privasi.db import PrivasiSession
from privasi.rights.execution import preparer
from privasi.rights.models import RequestTask, RightsRequest
from privasi.subjects import service as subjects

# Rows one batched look-up may read for a table; a batch finding more looks its subjects up one
# by one (each bounded by ``BATCH_ROWS``).
LOOKUP_CAP_ROWS = 4 * sql.BATCH_ROWS


@preparer("sql")
def prepare_sql(
    session: PrivasiSession, batch: list[tuple[RightsRequest, list[RequestTask]]]
) -> None:
    """Every table's first batch of keys for all the sql erasures and corrections of a batch of
    requests (one organisation), recorded for the caller's one commit: the subjects' identifiers
    in one query, then per system one connection and per table one statement for all subjects
    (``tables.first_keys_many``). With one batch per table (most subjects) this is the only
    bookkeeping commit before the tasks' results. A task whose database cannot be reached is
    left for its run, which reports the error."""
    held: dict[str, dict[str, list[str]]] = session.info.setdefault(sql._HELD, {})
    wanted = [r.subject_id for r, _ in batch if r.subject_id and r.subject_id not in held]
    held.update(subjects.identifiers_of_many(session, [s for s in wanted if s]))
    systems: dict[str, tuple[Engine, list[tuple[RequestTask, list[Work]]]]] = {}
    for request, tasks in batch:
        for task in tasks:
            plan = sql.PLANS.get(task.action)
            if plan is None or task.status in ("done", "skipped"):
                continue
            try:
                system, engine, mapped = sql._opened(session, task.system_id)
                work = plan(session, request, task, system, mapped)
            except (SQLAlchemyError, ConnectorError):
                continue
            systems.setdefault(system.id, (engine, []))[1].append((task, work))
    planned: dict[str, list[Work]] = session.info.setdefault(sql._PLANNED, {})
    for engine, items in systems.values():
        try:
            with engine.connect() as conn:
                _first_keys_many(session, conn, items)
                conn.rollback()
        except (SQLAlchemyError, ConnectorError):
            continue
        planned.update((task.id, work) for task, work in items)


def _first_keys_many(
    session: PrivasiSession, conn: Connection, items: list[tuple[RequestTask, list[Work]]]
) -> None:
    """``_first_keys`` for many tasks of one system: one statement per table for all of them."""
    tables_: dict[str, list[tuple[RequestTask, Work]]] = {}
    for task, work in items:
        for w in work:
            if not sql._table_state(task, w[0].name):
                tables_.setdefault(w[0].name, []).append((task, w))
    for pairs in tables_.values():
        mapped = pairs[0][1][0]
        found: list[list[list[Any]] | None] = [None] * len(pairs)
        if len(pairs) > 1:
            found = tables.first_keys_many(
                conn, mapped, [w[1] for _, w in pairs], sql.BATCH_ROWS, LOOKUP_CAP_ROWS
            )
        for (task, (table, values, _, _)), keys in zip(pairs, found, strict=True):
            if keys is None:
                keys = tables.next_keys(conn, table, values, None, sql.BATCH_ROWS)
            state: dict[str, Any] = {"rows": 0, "batches": 1 if keys else 0}
            state.update({"pending": keys} if keys else {"done": True})
            sql._put_table(session, task, table.name, state)
