"""Fixtures for retention: an example policy published for an organisation, its ``sql`` systems
built as real tables (SQLite files, or schemas on the suite's PostgreSQL server when
``PRIVASI_TEST_DATABASE_URL`` is set), and rows placed around each rule's cut-off.

Time travel is by the ``now`` every plan and run accepts: data is written relative to a fixed
moment ``T0`` and the sweep is asked what has run out at ``T0``, a day later, years later.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from privasi.connectors import tables
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.retention import rules
from privasi.vault.service import set_secret

BACKEND = "postgresql" if os.environ.get("PRIVASI_TEST_DATABASE_URL") else "sqlite"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def example_doc(name: str, slug: str) -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = slug
    doc["effective_date"] = "2026-01-01"
    if name == "digimetalab":
        # The CRM keeps whether a contact is a lead or a client: the inquiries rule needs it.
        for system in doc["systems"]:
            for table in system.get("tables", []):
                if table["name"] == "contacts":
                    table["state_column"] = "status"
    return doc


@dataclass
class Business:
    """An organisation with an example policy and its sql systems as real tables."""

    org_id: str
    slug: str
    doc: dict[str, Any]
    urls: dict[str, str]  # system id -> URL
    schemas: dict[str, str | None]
    tables: dict[str, sa.Table] = field(default_factory=dict)  # "system:table" -> table

    def table(self, system: str, name: str) -> sa.Table:
        return self.tables[f"{system}:{name}"]

    def rows(self, system: str, name: str) -> list[dict[str, Any]]:
        table = self.table(system, name)
        engine = sa.create_engine(self.urls[system])
        try:
            with engine.connect() as conn:
                return [
                    dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()
                ]
        finally:
            engine.dispose()

    def insert(self, system: str, name: str, rows: list[dict[str, Any]]) -> None:
        engine = sa.create_engine(self.urls[system])
        try:
            with engine.begin() as conn:
                conn.execute(self.table(system, name).insert(), rows)
        finally:
            engine.dispose()

    def policy(self) -> Any:
        from privasi.policy.loader import policy_from_dict

        return policy_from_dict(self.doc, "test")


def _build(url: str, schema: str | None, system: dict[str, Any]) -> dict[str, sa.Table]:
    md = sa.MetaData()
    built = {}
    for spec in system.get("tables", []):
        columns = [sa.Column("id", sa.Integer, primary_key=True)]
        names = [spec["identity_column"], *(c["name"] for c in spec["columns"])]
        if spec.get("state_column"):
            names.append(spec["state_column"])
        for name in dict.fromkeys(names):
            # A number and a date for the generalising anonymisations; text for the rest.
            kind = {"age": sa.Integer, "birth_date": sa.Date}.get(name, sa.String(200))
            columns.append(sa.Column(name, kind))
        for stamp in dict.fromkeys(spec.get("timestamps", {}).values()):
            columns.append(sa.Column(stamp, sa.DateTime))
        short = spec["name"].rpartition(".")[2]
        built[short] = sa.Table(short, md, *columns, schema=schema)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        md.create_all(conn)
    engine.dispose()
    return built


@pytest.fixture
def business(db: Any, make_org: Any, tmp_path: Path, database_url: str) -> Iterator[Any]:
    """``business("aspire")``: the example's organisation, policy and empty business tables."""
    made: list[Business] = []

    def factory(
        example: str, slug: str | None = None, tweak: Callable[[dict[str, Any]], None] | None = None
    ) -> Business:
        slug = slug or f"{example}-{uuid.uuid4().hex[:6]}"
        org = make_org(slug)
        doc = example_doc(example, slug)
        if tweak is not None:
            tweak(doc)
        urls: dict[str, str] = {}
        schemas: dict[str, str | None] = {}
        for system in doc["systems"]:
            if system["kind"] != "sql":
                continue
            if BACKEND == "postgresql":
                schema = f"{system['id']}_{uuid.uuid4().hex[:8]}"
                url = database_url
                for spec in system["tables"]:
                    spec["name"] = f"{schema}.{spec['name']}"
            else:
                schema = None
                url = f"sqlite:///{tmp_path / (slug + '-' + system['id'] + '.sqlite')}"
            urls[system["id"]], schemas[system["id"]] = url, schema
        found = Business(org.id, slug, doc, urls, schemas)
        for system in doc["systems"]:
            if system["kind"] == "sql":
                for short, table in _build(
                    urls[system["id"]], schemas[system["id"]], system
                ).items():
                    found.tables[f"{system['id']}:{short}"] = table
        with db.session(org.id) as s:
            principal = orgs.system_principal(org.id, "test")
            source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
            version = policies.create_draft(s, principal, source)
            policies.publish(s, principal, version)
            for system in doc["systems"]:
                if system["kind"] == "sql":
                    set_secret(s, principal, system["credential"], urls[system["id"]])
        made.append(found)
        return found

    yield factory
    tables.dispose_all()


def cutoff_of(policy: Any, rule_id: str, now: datetime = T0) -> datetime:
    return rules.cutoff(next(r for r in policy.retention.rules if r.id == rule_id), now)


def principal(org_id: str) -> Any:
    return orgs.system_principal(org_id, "test")


@pytest.fixture
def t0() -> datetime:
    return T0


def one_day() -> timedelta:
    return timedelta(days=1)
