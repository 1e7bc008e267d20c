"""The one scoping mechanism: ORM and Core statements, bulk writes, and unscoped sessions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import aliased

from privasi.errors import UnscopedQueryError
from privasi.orgs import service as orgs
from privasi.orgs.models import ApiKey


@pytest.fixture
def two_orgs(db):
    with db.session(system=True) as s:
        a = orgs.create_org(s, "org-a", "A")
        b = orgs.create_org(s, "org-b", "B")
    for org in (a, b):
        with db.session(org.id) as s:
            for i in range(3):
                orgs.create_api_key(s, name=f"{org.slug}-{i}", scopes=["org.read"])
    return a, b


def test_orm_select_sees_only_own_rows(db, two_orgs):
    a, b = two_orgs
    with db.session(a.id) as s:
        names = s.scalars(select(ApiKey.name)).all()
        assert sorted(names) == ["org-a-0", "org-a-1", "org-a-2"]
        # an explicit filter on the other org's id cannot widen the scope
        assert s.scalars(select(ApiKey).where(ApiKey.org_id == b.id)).all() == []
        alias = aliased(ApiKey)
        assert s.scalar(select(func.count()).select_from(alias)) == 3


def test_core_select_update_delete_are_scoped(db, two_orgs):
    a, b = two_orgs
    table = ApiKey.__table__
    with db.session(a.id) as s:
        assert s.scalar(select(func.count()).select_from(table)) == 3
        s.execute(update(table).values(name="renamed"))
        s.execute(delete(table).where(table.c.name == "renamed"))
    with db.session(b.id) as s:
        assert sorted(s.scalars(select(ApiKey.name)).all()) == ["org-b-0", "org-b-1", "org-b-2"]
    with db.session(a.id) as s:
        assert s.scalars(select(ApiKey)).all() == []


def test_orm_bulk_update_is_scoped(db, two_orgs):
    a, b = two_orgs
    with db.session(a.id) as s:
        s.execute(update(ApiKey).values(name="bulk"))
    with db.session(b.id) as s:
        assert "bulk" not in s.scalars(select(ApiKey.name)).all()


def test_bulk_insert_fills_and_guards_org(db, two_orgs):
    a, b = two_orgs
    row = {"key_id": "k1", "secret_hash": "0" * 64, "name": "bulk", "scopes": []}
    with db.session(a.id) as s:
        s.execute(insert(ApiKey), [row])
    with db.session(a.id) as s:
        assert s.scalar(select(ApiKey).where(ApiKey.key_id == "k1")).org_id == a.id
    with pytest.raises(UnscopedQueryError), db.session(a.id) as s:
        s.execute(insert(ApiKey), [{**row, "key_id": "k2", "org_id": b.id}])
    with pytest.raises(UnscopedQueryError), db.session(a.id) as s:
        s.execute(insert(ApiKey).values(**{**row, "key_id": "k3"}))


def test_flush_refuses_foreign_rows(db, two_orgs):
    a, b = two_orgs
    with pytest.raises(UnscopedQueryError), db.session(a.id) as s:
        s.add(ApiKey(org_id=b.id, key_id="x", secret_hash="0" * 64, name="x", scopes=[]))
    with db.session(b.id) as s:
        key = s.scalars(select(ApiKey)).first()
    with pytest.raises(UnscopedQueryError), db.session(a.id) as s:
        key = s.merge(key)


def test_unscoped_sessions_are_refused(db, two_orgs):
    with pytest.raises(UnscopedQueryError):
        db.new_session()
    session = db._factory()  # bypassing Database.session(): still guarded
    with pytest.raises(UnscopedQueryError):
        session.execute(select(ApiKey))
    session.close()
    with db.session(system=True) as s:
        assert s.scalar(select(func.count()).select_from(ApiKey)) == 6


def test_tenant_tables_in_subqueries_and_aliases_are_scoped_or_refused(db, two_orgs):
    a, _b = two_orgs
    table = ApiKey.__table__
    with db.session(a.id) as s:
        # an ORM subquery in WHERE reaches the other org's rows only through the scope
        inner = select(ApiKey.key_id).where(ApiKey.name.like("org-b-%")).scalar_subquery()
        assert s.scalars(select(ApiKey.name).where(ApiKey.key_id.in_(inner))).all() == []
        inner_core = select(table.c.id).where(table.c.name == "org-b-0").scalar_subquery()
        assert s.scalars(select(table.c.name).where(table.c.id == inner_core)).all() == []
        # a Core alias would escape the WHERE added to the table itself
        with pytest.raises(UnscopedQueryError):
            s.execute(select(func.count()).select_from(table.alias("k")))


LATE_MODEL = """
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

import privasi.models_all
from privasi.db import Base, Database, TenantMixin, tenant_tables
from privasi.errors import UnscopedQueryError

before = tenant_tables()


class LateNote(TenantMixin, Base):
    __tablename__ = "late_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))


assert LateNote.__table__ not in before
assert LateNote.__table__ in tenant_tables()
try:
    Database("sqlite://")._factory().execute(select(LateNote))
except UnscopedQueryError:
    print("refused")
"""


def test_a_tenant_model_imported_after_the_first_statement_is_scoped():
    # in a fresh interpreter: a model defined here would stay in the shared metadata
    done = subprocess.run(
        [sys.executable, "-c", LATE_MODEL], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"
