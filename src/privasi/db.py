"""Engine, sessions and tenant scoping.

Every table that holds an organisation's data mixes in ``TenantMixin``. Sessions are opened for one
organisation (``Database.session(org_id)``) or explicitly as system sessions (the worker, migrations,
operator commands). One listener enforces the scope for every statement a session runs, ORM and Core
alike, so no service has to remember a ``WHERE org_id = ...``:

- SELECT, UPDATE and DELETE on tenant tables get the organisation's criteria added (ORM entities through
  ``with_loader_criteria``, which also reaches joins, relationship loads and aliases; Core tables through
  an explicit WHERE).
- INSERTs (flushes and bulk ``insert()`` with parameter lists) get ``org_id`` filled in, and a row for
  another organisation is refused.
- A statement on a tenant table from a session with no scope raises ``UnscopedQueryError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Delete,
    Dialect,
    ForeignKey,
    Insert,
    MetaData,
    Select,
    String,
    Table,
    TypeDecorator,
    Update,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    UOWTransaction,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.sql import util as sql_util
from sqlalchemy.sql.selectable import Alias

from privasi.errors import UnscopedQueryError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns aware UTC datetimes, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; privasi stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class TenantMixin:
    """Marks a table as belonging to one organisation; the scope listener does the rest."""

    @declared_attr
    def org_id(cls) -> Mapped[str]:
        return mapped_column(
            String(36), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
        )


def tenant_tables() -> frozenset[Table]:
    global _tenant_tables
    if _tenant_tables is None:
        _tenant_tables = frozenset(
            mapper.local_table  # type: ignore[misc]
            for mapper in Base.registry.mappers
            if issubclass(mapper.class_, TenantMixin)
        )
    return _tenant_tables


# The scoping listener asks for this set on every statement; building it walks every mapper, so it is
# kept until a new mapped class appears (models are imported lazily by the registries).
_tenant_tables: frozenset[Table] | None = None


@event.listens_for(Mapper, "after_mapper_constructed")
def _forget_tenant_tables(mapper: Mapper[Any], class_: type) -> None:
    global _tenant_tables
    _tenant_tables = None


class PrivasiSession(Session):
    """A session carrying its scope in ``info``: ``org_id`` or ``system``."""

    @property
    def org_id(self) -> str | None:
        return self.info.get("org_id")

    def require_org(self) -> str:
        org_id = self.org_id
        if org_id is None:
            raise UnscopedQueryError("this operation needs an organisation-scoped session")
        return org_id


def _statement_tables(statement: Any) -> tuple[set[Table], bool]:
    """Tenant tables a statement touches, and whether any appears through an alias."""
    tenants = tenant_tables()
    found: set[Table] = set()
    aliased = False
    for clause in sql_util.find_tables(
        statement, include_aliases=True, include_joins=False, include_crud=True
    ):
        is_alias = isinstance(clause, Alias)
        element: Any = clause.element if is_alias else clause  # type: ignore[attr-defined]
        if not isinstance(element, Table):
            continue
        # ORM statements carry annotated copies of the tables. Looking a copy up in the set compares
        # it with ``==``, which SQLAlchemy turns into a SQL expression per candidate (most of this
        # listener's cost); the copy's original is the real Table, hashed and compared by identity.
        table = element._deannotate()
        if table in tenants:
            found.add(table)
            aliased = aliased or is_alias
    return found, aliased


def _is_orm(statement: Any) -> bool:
    return statement._propagate_attrs.get("compile_state_plugin") == "orm"


def _check_insert_params(params: Any, org_id: str) -> None:
    rows = params if isinstance(params, list) else [params]
    for row in rows:
        if not isinstance(row, dict):
            raise UnscopedQueryError("tenant inserts must pass rows as dictionaries")
        value = row.setdefault("org_id", org_id)
        if value != org_id:
            raise UnscopedQueryError("refusing to insert a row for another organisation")


@event.listens_for(PrivasiSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    tables, aliased = _statement_tables(statement)
    if not tables:
        return
    session = state.session
    org_id = session.info.get("org_id")
    if org_id is None:
        if session.info.get("system"):
            return
        names = ", ".join(sorted(t.name for t in tables))
        raise UnscopedQueryError(f"statement on tenant tables ({names}) from an unscoped session")

    if isinstance(statement, Insert):
        if statement.select is not None:
            raise UnscopedQueryError("INSERT ... SELECT on tenant tables is not supported")
        if not state.parameters:
            if statement._values or statement._multi_values:
                raise UnscopedQueryError(
                    "tenant inserts must pass rows as parameters, not inline values()"
                )
            raise UnscopedQueryError("tenant insert without rows")
        _check_insert_params(state.parameters, org_id)
        return

    if _is_orm(statement):
        state.statement = statement.options(
            with_loader_criteria(
                TenantMixin,
                lambda cls: cls.org_id == org_id,
                include_aliases=True,
            )
        )
        return

    if aliased:
        raise UnscopedQueryError("Core statements may not alias tenant tables; use ORM entities")
    if isinstance(statement, Select | Update | Delete):
        for table in sorted(tables, key=lambda t: t.name):
            statement = statement.where(table.c.org_id == org_id)
        state.statement = statement
        return
    raise UnscopedQueryError(f"unsupported statement on tenant tables: {type(statement).__name__}")


@event.listens_for(PrivasiSession, "before_flush")
def _scope_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    org_id = session.info.get("org_id")
    system = session.info.get("system")
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantMixin):
            continue
        if org_id is None:
            if not system:
                raise UnscopedQueryError("writing a tenant row from an unscoped session")
            if obj.org_id is None:
                raise UnscopedQueryError("system sessions must set org_id explicitly")
            continue
        if obj.org_id is None:
            obj.org_id = org_id
        elif obj.org_id != org_id:
            raise UnscopedQueryError("refusing to write a row of another organisation")


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, record: Any) -> None:
            # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """The main database: one engine and a session factory with the scope rules above."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._factory = sessionmaker(self.engine, class_=PrivasiSession, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def new_session(self, org_id: str | None = None, *, system: bool = False) -> PrivasiSession:
        if org_id is None and not system:
            raise UnscopedQueryError("open a session for an organisation, or a system session")
        session = self._factory()
        session.info["org_id"] = org_id
        session.info["system"] = system
        return session

    @contextmanager
    def session(
        self, org_id: str | None = None, *, system: bool = False
    ) -> Iterator[PrivasiSession]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        session = self.new_session(org_id, system=system)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
