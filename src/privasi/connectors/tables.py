"""Table and column access in a business's SQL database, as the policy declares it.

Used by the rights connector (``sql.py``) and meant for retention sweeps too, so nothing here knows
about requests or tasks: it reflects the declared tables, finds a subject's rows by the identity
column, and applies erasure strategies or corrections to one bounded batch of rows at a time,
addressed by primary key. Every operation is idempotent (deleting, nulling or masking twice gives
the same row; a hashed value is recognised and not hashed again), so a batch may be replayed after
a crash. Errors name tables and columns from the policy, never a value or the connection URL.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError

from privasi.db import normalise_url
from privasi.policy.systems import Table as TableSpec
from privasi.policy.vocab import Erasure

HASH_PREFIX = "h1:"
HASH_LENGTH = len(HASH_PREFIX) + 64
MASK_KEEP = frozenset("@. -_")
ENGINE_CACHE_SIZE = 32
POOL_RECYCLE_SECONDS = 600
# Reflection is reused for a while (one request after another), then read again so a changed
# schema is noticed; an error while using a cached reflection also drops it.
REFLECTION_TTL_SECONDS = 300.0


class ConnectorError(Exception):
    """A connector problem described without any personal data or secret in it."""


def describe(exc: BaseException) -> str:
    """An exception's class only: driver messages may quote the URL or the parameters."""
    return type(exc).__name__


# --- engines and reflection --------------------------------------------------------------------


@dataclass
class Mapped:
    """A declared table as found in the database: only the columns the policy names."""

    spec: TableSpec
    table: sa.Table
    key: list[sa.Column[Any]]
    identity: sa.Column[Any]
    columns: dict[str, sa.Column[Any]] = field(default_factory=dict)
    # A table found through another one (``via``): that table, and the column of it that this
    # table's identity column refers to.
    parent: Mapped | None = None
    parent_key: sa.Column[Any] | None = None
    # Statements built once per reflected table (building one costs about as much as running
    # it on a small table); their values travel as parameters.
    statements: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def kind(self) -> str:
        """The kind of subject identifier that finds this table's rows."""
        return (self.parent or self).spec.match_kind()


_lock = threading.Lock()
_engines: OrderedDict[str, Engine] = OrderedDict()


def engine_for(url: str) -> Engine:
    """One long-lived engine per connection URL (kept by its digest, not the URL)."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    with _lock:
        engine = _engines.get(digest)
        if engine is not None:
            _engines.move_to_end(digest)
            return engine
    try:
        # No ping before each checkout (a round trip per batch): a dropped connection fails the
        # task, the pool discards it, and the job's retry gets a fresh one.
        engine = sa.create_engine(normalise_url(url), pool_recycle=POOL_RECYCLE_SECONDS)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise ConnectorError(
            f"the stored connection URL is not usable by SQLAlchemy ({describe(exc)})"
        ) from None
    with _lock:
        _engines[digest] = engine
        while len(_engines) > ENGINE_CACHE_SIZE:
            _, old = _engines.popitem(last=False)
            for key in [k for k in _reflected if k[0] == id(old)]:
                del _reflected[key]
            old.dispose()
    return engine


_reflected: dict[tuple[int, str], tuple[float, list[Mapped]]] = {}


# The declaration's text by the identity of the (immutable, cached per policy version) list of
# table specs it was made from, which is kept alongside so the id cannot be reused meanwhile.
_declared: dict[int, tuple[Sequence[TableSpec], str]] = {}


def _declaration(specs: Sequence[TableSpec]) -> str:
    found = _declared.get(id(specs))
    if found is not None and found[0] is specs:
        return found[1]
    text = "|".join(spec.model_dump_json() for spec in specs)
    with _lock:
        if len(_declared) > 1024:
            _declared.clear()
        _declared[id(specs)] = (specs, text)
    return text


def reflected(engine: Engine, specs: Sequence[TableSpec]) -> list[Mapped]:
    """``reflect``, remembered per engine and declaration for ``REFLECTION_TTL_SECONDS``."""
    key = (id(engine), _declaration(specs))
    now = time.monotonic()
    with _lock:
        cached = _reflected.get(key)
    if cached is not None and now - cached[0] < REFLECTION_TTL_SECONDS:
        return cached[1]
    found = reflect(engine, specs)
    with _lock:
        _reflected[key] = (now, found)
    return found


def forget_reflection(engine: Engine) -> None:
    with _lock:
        for key in [k for k in _reflected if k[0] == id(engine)]:
            del _reflected[key]


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _reflected.clear()


def _split(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return (schema or None), table


def reflect(engine: Engine, specs: Sequence[TableSpec]) -> list[Mapped]:
    """The declared tables, parents before the tables that reference them; raises
    ``ConnectorError`` naming every missing table or column."""
    metadata = sa.MetaData()
    problems: list[str] = []
    found: dict[str, Mapped] = {}
    try:
        with engine.connect() as conn:
            for spec in specs:
                schema, name = _split(spec.name)
                try:
                    table = sa.Table(name, metadata, schema=schema, autoload_with=conn)
                except NoSuchTableError:
                    problems.append(f"table '{spec.name}' does not exist")
                    continue
                mapped = _map(spec, table, problems)
                if mapped is not None:
                    found[spec.name] = mapped
    except SQLAlchemyError as exc:
        raise ConnectorError(f"could not read the database's tables ({describe(exc)})") from None
    for mapped in found.values():
        if mapped.spec.via is None:
            continue
        parent_name, _, column = mapped.spec.via.rpartition(".")
        parent = found.get(parent_name)
        if parent is not None and column not in parent.table.c:
            problems.append(f"column '{mapped.spec.via}' does not exist")
        elif parent is not None:
            mapped.parent, mapped.parent_key = parent, parent.table.c[column]
    if problems:
        raise ConnectorError("; ".join(problems))
    order = {id(t): i for i, t in enumerate(metadata.sorted_tables)}
    # Parents first: erasure walks this backwards, so rows found through another table's rows
    # are dealt with while those rows still exist.
    return sorted(found.values(), key=lambda m: (m.parent is not None, order.get(id(m.table), 0)))


def _map(spec: TableSpec, table: sa.Table, problems: list[str]) -> Mapped | None:
    wanted = [spec.identity_column, *(c.name for c in spec.columns), *spec.timestamps.values()]
    missing = [n for n in dict.fromkeys(wanted) if n not in table.c]
    for name in missing:
        problems.append(f"column '{spec.name}.{name}' does not exist")
    key = list(table.primary_key.columns)
    if not key:
        problems.append(
            f"table '{spec.name}' has no primary key; privasi works through rows in batches "
            "addressed by it"
        )
    if missing or not key:
        return None
    return Mapped(
        spec=spec,
        table=table,
        key=key,
        identity=table.c[spec.identity_column],
        columns={c.name: table.c[c.name] for c in spec.columns},
    )


# --- finding a subject's rows ------------------------------------------------------------------


def match_values(kind: str, identifiers: dict[str, list[str]]) -> list[str]:
    """The values to look for in an identity column of this kind, given the subject's normalised
    identifiers. A phone number is also looked for as written locally (0812..., 62812...),
    since Indonesian databases store it every way."""
    kinds = ("phone", "whatsapp") if kind in ("phone", "whatsapp") else (kind,)
    values: list[str] = []
    for k in kinds:
        for value in identifiers.get(k, []):
            values.append(value)
            if k in ("phone", "whatsapp") and value.startswith("+"):
                digits = value[1:]
                values.append(digits)
                if digits.startswith("62"):
                    values.append("0" + digits[2:])
    return list(dict.fromkeys(values))


def where(mapped: Mapped, values: Sequence[str] | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """The subject's rows: identity column among the values (or an expanding parameter for
    them), or (``via``) among the keys of the subject's rows in the other table."""
    if mapped.parent is not None and mapped.parent_key is not None:
        keys = sa.select(mapped.parent_key).where(where(mapped.parent, values))
        return mapped.identity.in_(keys.scalar_subquery())
    if isinstance(values, sa.BindParameter):
        return mapped.identity.in_(values)
    return mapped.identity.in_(list(values))


def _key_expr(mapped: Mapped) -> Any:
    return mapped.key[0] if len(mapped.key) == 1 else sa.tuple_(*mapped.key)


def count(conn: Connection, mapped: Mapped, values: Sequence[str]) -> int:
    query = sa.select(sa.func.count()).select_from(mapped.table).where(where(mapped, values))
    return int(conn.scalar(query) or 0)


def _keys_statement(mapped: Mapped, paged: bool) -> Any:
    """The look-up of the next batch's keys, with the values, the last key seen and the limit
    as parameters (``values`` expanding, so any number of identifiers shares one statement)."""
    name = "keys_after" if paged else "keys_first"
    statement = mapped.statements.get(name)
    if statement is None:
        values: sa.BindParameter[Any] = sa.bindparam("values", expanding=True)
        statement = sa.select(*mapped.key).where(where(mapped, values))
        if paged:
            after: list[sa.BindParameter[Any]] = [
                sa.bindparam(f"after_{i}") for i in range(len(mapped.key))
            ]
            if len(mapped.key) == 1:
                statement = statement.where(mapped.key[0] > after[0])
            else:
                statement = statement.where(sa.tuple_(*mapped.key) > sa.tuple_(*after))
        statement = statement.order_by(*mapped.key).limit(sa.bindparam("limit"))
        mapped.statements[name] = statement
    return statement


def next_keys(
    conn: Connection,
    mapped: Mapped,
    values: Sequence[str],
    after: list[Any] | None,
    limit: int,
) -> list[list[Any]]:
    """The primary keys of the next batch of matching rows, in key order (keyset paging, so a
    batch whose rows were changed or deleted is never read again)."""
    params: dict[str, Any] = {"values": list(values), "limit": limit}
    if after is not None:
        params.update({f"after_{i}": v for i, v in enumerate(after)})
    rows = conn.execute(_keys_statement(mapped, after is not None), params)
    return [[_plain(v) for v in row] for row in rows]


def _first_keys_statement(mapped: Mapped) -> Any:
    """Every matching row's identity (the parent's, for a table found through another) and key,
    for many subjects' values at once, in key order, with a cap on the rows read."""
    statement = mapped.statements.get("keys_many")
    if statement is None:
        values: sa.BindParameter[Any] = sa.bindparam("values", expanding=True)
        if mapped.parent is not None and mapped.parent_key is not None:
            parent = mapped.parent
            statement = (
                sa.select(parent.identity, *mapped.key)
                .select_from(mapped.table.join(parent.table, mapped.identity == mapped.parent_key))
                .where(parent.identity.in_(values))
            )
        else:
            statement = sa.select(mapped.identity, *mapped.key).where(mapped.identity.in_(values))
        statement = statement.order_by(*mapped.key).limit(sa.bindparam("limit"))
        mapped.statements["keys_many"] = statement
    return statement


def first_keys_many(
    conn: Connection, mapped: Mapped, subjects: Sequence[Sequence[str]], limit: int, cap: int
) -> list[list[list[Any]] | None]:
    """``next_keys(conn, mapped, values, None, limit)`` for each subject's values, in one
    statement for all. A subject gets ``None`` (look it up on its own) when it has ``limit`` rows
    or more, since only a short first batch is complete whatever the order of its keys; so does
    every subject when the statement finds more than ``cap`` rows (memory stays bounded), when a
    returned identity is not one of the values as given (a collation that folds case), or when
    the table is found through a table that is itself found through another."""
    unknown: list[list[list[Any]] | None] = [None] * len(subjects)
    if mapped.parent is not None and (
        mapped.parent.parent is not None or mapped.parent_key is None
    ):
        return unknown
    owners: dict[str, list[int]] = {}
    for i, values in enumerate(subjects):
        for value in dict.fromkeys(values):
            owners.setdefault(str(value), []).append(i)
    if not owners:
        return [[] for _ in subjects]
    rows = conn.execute(
        _first_keys_statement(mapped), {"values": list(owners), "limit": cap + 1}
    ).all()
    if len(rows) > cap:
        return unknown
    found: list[dict[tuple[Any, ...], None]] = [{} for _ in subjects]
    for row in rows:
        who = owners.get(str(row[0]))
        if who is None:
            return unknown
        key = tuple(_plain(v) for v in row[1:])
        for i in who:
            found[i][key] = None
    return [[list(k) for k in keys] if len(keys) < limit else None for keys in found]


def _by_keys(mapped: Mapped, keys: Sequence[Sequence[Any]]) -> sa.ColumnElement[bool]:
    if len(mapped.key) == 1:
        return mapped.key[0].in_([k[0] for k in keys])
    return sa.tuple_(*mapped.key).in_([tuple(k) for k in keys])


def read(conn: Connection, mapped: Mapped, values: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The declared columns (and timestamps) of every matching row."""
    names = list(dict.fromkeys([*mapped.columns, *mapped.spec.timestamps.values()]))
    query = (
        sa.select(*(mapped.table.c[n] for n in names))
        .where(where(mapped, values))
        .order_by(*mapped.key)
    )
    for row in conn.execute(query).mappings():
        yield {k: _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a database value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


# --- erasure and correction --------------------------------------------------------------------


@dataclass(frozen=True)
class ErasurePlan:
    """What erasure does to one table: delete its rows, or change some columns and keep the
    rest (columns whose category must be kept are never touched)."""

    delete: bool
    strategies: dict[str, Erasure]
    kept_columns: list[str]

    @property
    def empty(self) -> bool:
        return not self.delete and not self.strategies


def erasure_plan(spec: TableSpec, kept_categories: set[str]) -> ErasurePlan:
    kept = [c.name for c in spec.columns if c.category in kept_categories]
    erase = {c.name: c.erasure for c in spec.columns if c.category not in kept_categories}
    if not kept and Erasure.delete_row in erase.values():
        return ErasurePlan(delete=True, strategies={}, kept_columns=[])
    # A row holding kept data stays; its "delete row" columns are emptied instead.
    strategies: dict[str, Erasure] = {
        name: (Erasure.null if s is Erasure.delete_row else s) for name, s in erase.items()
    }
    return ErasurePlan(delete=False, strategies=strategies, kept_columns=kept)


def mask(value: Any) -> Any:
    """The first character kept, every other letter or digit starred, separators kept (so an
    address still reads as an address); masking a masked value changes nothing."""
    if not isinstance(value, str):
        return None
    if not value:
        return value
    return value[0] + "".join(c if c in MASK_KEEP else "*" for c in value[1:])


def hasher(key: bytes) -> Callable[[Any], Any]:
    """Keyed HMAC-SHA256, hex with a marker so a hashed value is recognised and not hashed
    twice. Values that are not text (a number column) are emptied instead."""

    def hash_value(value: Any) -> Any:
        if not isinstance(value, str):
            return None
        if value.startswith(HASH_PREFIX) and len(value) == HASH_LENGTH:
            return value
        return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    return hash_value


def erase(
    conn: Connection,
    mapped: Mapped,
    plan: ErasurePlan,
    keys: Sequence[Sequence[Any]],
    hash_value: Callable[[Any], Any],
) -> int:
    """Apply the plan to the rows with these keys; returns the rows changed or deleted."""
    if not keys or plan.empty:
        return 0
    if plan.delete:
        if len(mapped.key) == 1:
            # The common case, built once: DELETE ... WHERE key IN (expanding parameter).
            statement = mapped.statements.get("delete")
            if statement is None:
                by_key = mapped.key[0].in_(sa.bindparam("keys", expanding=True))
                statement = mapped.statements["delete"] = sa.delete(mapped.table).where(by_key)
            result = conn.execute(statement, {"keys": [k[0] for k in keys]})
            return int(result.rowcount or 0)
        statement = sa.delete(mapped.table).where(_by_keys(mapped, keys))
        return int(conn.execute(statement).rowcount or 0)
    nulls = {n: None for n, s in plan.strategies.items() if s is Erasure.null}
    computed = {n: s for n, s in plan.strategies.items() if s in (Erasure.mask, Erasure.hash)}
    if not computed:
        statement = sa.update(mapped.table).where(_by_keys(mapped, keys)).values(nulls)
        return int(conn.execute(statement).rowcount or 0)
    names = [c.name for c in mapped.key]
    if len(mapped.key) == 1:
        # Built once per table and set of columns, the keys an expanding parameter.
        name = f"read:{','.join(computed)}"
        reading = mapped.statements.get(name)
        if reading is None:
            reading = mapped.statements[name] = sa.select(
                *mapped.key, *(mapped.columns[n] for n in computed)
            ).where(mapped.key[0].in_(sa.bindparam("keys", expanding=True)))
        rows = conn.execute(reading, {"keys": [k[0] for k in keys]}).mappings()
    else:
        rows = conn.execute(
            sa.select(*mapped.key, *(mapped.columns[n] for n in computed)).where(
                _by_keys(mapped, keys)
            )
        ).mappings()
    params = []
    for row in rows:
        values: dict[str, Any] = dict(nulls)
        for name, strategy in computed.items():
            values[name] = mask(row[name]) if strategy is Erasure.mask else hash_value(row[name])
        params.append(
            {**{f"k_{n}": row[n] for n in names}, **{f"v_{n}": v for n, v in values.items()}}
        )
    if not params:
        return 0
    changed = [*nulls, *computed]
    statement = mapped.statements.get(f"update:{','.join(changed)}")
    if statement is None:
        statement = mapped.statements[f"update:{','.join(changed)}"] = (
            sa.update(mapped.table)
            .where(*(mapped.table.c[n] == sa.bindparam(f"k_{n}") for n in names))
            .values({n: sa.bindparam(f"v_{n}") for n in changed})
        )
    conn.execute(statement, params)
    return len(params)


def correct(
    conn: Connection, mapped: Mapped, values: dict[str, Any], keys: Sequence[Sequence[Any]]
) -> int:
    """Set corrected values on the rows with these keys (idempotent)."""
    if not keys or not values:
        return 0
    statement = sa.update(mapped.table).where(_by_keys(mapped, keys)).values(values)
    return int(conn.execute(statement).rowcount or 0)
