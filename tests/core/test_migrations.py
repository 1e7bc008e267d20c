"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import privasi.models_all  # noqa: F401
from privasi.db import Base
from privasi.migrate import current_revision, head_revision


def test_migrated_schema_matches_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_is_at_head(db):
    assert current_revision(db.url) == head_revision() is not None


def test_sqlite_runs_in_wal_with_foreign_keys(db):
    if db.is_postgres:
        assert inspect(db.engine).has_table("organisations")
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
