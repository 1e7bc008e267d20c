"""``privasi connectors test``: is an sql system reachable and does it match the policy?

Checks the credential, that every declared table and column exists, and for a test identifier
what an access request would read and what an erasure would do: counts per table and category,
never a value. Only reads, in transactions that are rolled back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from privasi.audit import service as audit
from privasi.connectors import sql, tables
from privasi.connectors.tables import ConnectorError, Mapped, describe
from privasi.db import PrivasiSession
from privasi.errors import NotFound
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.policy.vocab import Erasure
from privasi.rights.execution import kept_for
from privasi.subjects import identifiers as ident


@dataclass
class TableReport:
    name: str
    match: str
    rows: int | None = None
    categories: dict[str, int] = field(default_factory=dict)
    erasure: str = ""
    kept_columns: list[str] = field(default_factory=list)


@dataclass
class Report:
    system: str
    ok: bool
    checks: list[dict[str, Any]] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(report: Report, name: str, ok: bool, detail: str) -> bool:
    report.checks.append({"check": name, "ok": ok, "detail": detail})
    report.ok = report.ok and ok
    return ok


def parse_identifiers(pairs: list[str]) -> dict[str, list[str]]:
    """``kind=value`` pairs, normalised as privasi stores them."""
    found: dict[str, list[str]] = {}
    for pair in pairs:
        kind, sep, value = pair.partition("=")
        if not sep or not value.strip():
            raise ConnectorError("an identifier is given as kind=value, e.g. email=a@b.example")
        kind = kind.strip()
        found.setdefault(kind, []).append(ident.normalise(kind, value))
    return found


def _counts(conn: sa.Connection, mapped: Mapped, values: list[str]) -> tuple[int, dict[str, int]]:
    """Matching rows, and per category the values present, counted by the database."""
    columns = list(mapped.spec.columns)
    query = (
        sa.select(sa.func.count(), *(sa.func.count(mapped.columns[c.name]) for c in columns))
        .select_from(mapped.table)
        .where(tables.where(mapped, values))
    )
    row = conn.execute(query).one()
    categories: dict[str, int] = {}
    for column, present in zip(columns, row[1:], strict=True):
        categories[column.category] = categories.get(column.category, 0) + int(present or 0)
    return int(row[0] or 0), categories


def _fits(report: Report, mapped: Mapped, plan: tables.ErasurePlan) -> None:
    """An erasure that empties or rewrites a column must be able to store the result."""
    for name, strategy in plan.strategies.items():
        column = mapped.columns[name]
        empties = strategy is Erasure.null
        if empties and not column.nullable:
            _check(
                report,
                "erasure",
                False,
                f"column '{mapped.name}.{name}' is NOT NULL, so erasure cannot empty it: "
                "choose mask, hash or delete_row for it",
            )


def run_check(
    session: PrivasiSession, system_id: str, identifiers: dict[str, list[str]] | None = None
) -> Report:
    """The report of one system; ``ok`` is False when something needs fixing."""
    policy = policies.current_policy(session)
    try:
        system = policy.system(system_id)
    except (KeyError, ValueError, NotFound):
        raise ConnectorError(f"the policy has no system '{system_id}'") from None
    if system.kind.value == "http":
        # The http connector's own probe (a signed dry-run operation), imported here because
        # it builds on this module's Report.
        from privasi.connectors import http_check

        report = http_check.run_check(session, system, identifiers)
        _audit(session, system_id, report, identifiers)
        return report
    report = Report(system=system_id, ok=True)
    if system.kind.value != "sql":
        _check(
            report,
            "kind",
            False,
            f"'{system_id}' is a {system.kind.value} system: nothing to connect to",
        )
        return report
    try:
        engine, mapped = sql.connect(session, system, fresh=True)
    except ConnectorError as exc:
        _check(report, "connect", False, str(exc))
        return report
    except SQLAlchemyError as exc:
        _check(report, "connect", False, f"could not connect ({describe(exc)})")
        return report
    _check(report, "connect", True, f"connected ({engine.dialect.name})")
    declared = sum(len(t.spec.columns) for t in mapped)
    _check(report, "tables", True, f"{len(mapped)} tables and {declared} columns found")
    keep = kept_for(policy, system.all_categories())
    kept_categories = {c for entry in keep for c in entry["categories"]}
    try:
        with engine.connect() as conn:
            for table in mapped:
                plan = tables.erasure_plan(table.spec, kept_categories)
                entry = TableReport(
                    name=table.name,
                    match=table.kind() + (f" via {table.spec.via}" if table.spec.via else ""),
                    erasure="delete rows" if plan.delete else "erase columns",
                    kept_columns=plan.kept_columns,
                )
                if plan.empty:
                    entry.erasure = "nothing (all kept)"
                _fits(report, table, plan)
                if identifiers is not None:
                    values = tables.match_values(table.kind(), identifiers)
                    entry.rows, entry.categories = (
                        _counts(conn, table, values) if values else (0, {})
                    )
                report.tables.append(entry)
            conn.rollback()
    except SQLAlchemyError as exc:
        _check(report, "read", False, f"could not count rows ({describe(exc)})")
    _audit(session, system_id, report, identifiers)
    return report


def _audit(
    session: PrivasiSession,
    system_id: str,
    report: Report,
    identifiers: dict[str, list[str]] | None,
) -> None:
    audit.record(
        session,
        system_principal(session.require_org(), "connectors"),
        "connector.tested",
        details={"system": system_id, "ok": report.ok, "identifier": identifiers is not None},
    )
