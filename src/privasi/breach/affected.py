"""Who a breach affects: found from the data map, or imported from a list, and counted.

From the data map: the systems the breach involves (or every system holding its categories), the
categories involved (or all the systems hold), and the time window (data collected before the
breach ended). privasi's own store gives the subjects on record then; an ``sql`` system gives the
identifiers in its declared tables, matched to subjects by blind index, and a person not yet on
record becomes a subject, so the notice can reach them. ``http`` and ``manual`` systems cannot be
listed from here: they are reported, and their people are imported from a list (CSV of e-mail
addresses or phone numbers, matched by blind index).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from privasi.db import PrivasiSession
from privasi.errors import ValidationFailed
from privasi.orgs.service import Principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy
from privasi.policy.systems import System
from privasi.policy.vocab import Sensitivity
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject, SubjectIdentifier

from . import service
from .models import Breach, BreachSubject

MAX_ROWS = 100_000  # per table or list: a bigger breach is imported in several lists
IMPORT_KINDS = ("email", "phone", "whatsapp", "external")


@dataclass
class Found:
    """The outcome of one discovery or import: counts only, never identifiers."""

    added: int = 0
    already: int = 0
    created_subjects: int = 0
    unmatched: int = 0
    systems: dict[str, int] = field(default_factory=dict)
    needs_import: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "already": self.already,
            "created_subjects": self.created_subjects,
            "unmatched": self.unmatched,
            "systems": self.systems,
            "needs_import": self.needs_import,
            "errors": self.errors,
        }


def _scope(policy: Policy, breach: Breach) -> tuple[list[System], set[str]]:
    wanted = set(breach.categories)
    if breach.systems:
        systems = [policy.system(s) for s in breach.systems]
    else:
        systems = [s for s in policy.systems if not wanted or wanted & set(s.all_categories())]
    if not wanted:
        wanted = {c for s in systems for c in s.all_categories()}
    return systems, wanted


def _record(
    session: PrivasiSession,
    breach: Breach,
    found: dict[str, set[str]],
    source: str,
    result: Found,
) -> None:
    """Add or extend the breach's affected subjects (subject id -> categories touched)."""
    if not found:
        return
    existing = {
        row.subject_id: row
        for row in session.scalars(
            select(BreachSubject).where(BreachSubject.breach_id == breach.id)
        )
    }
    for subject_id, categories in found.items():
        row = existing.get(subject_id)
        if row is None:
            session.add(
                BreachSubject(
                    breach_id=breach.id,
                    subject_id=subject_id,
                    categories=sorted(categories),
                    source=source,
                )
            )
            result.added += 1
        else:
            merged = sorted(set(row.categories) | categories)
            if merged != row.categories:
                row.categories = merged
            result.already += 1
    session.flush()


def refresh_flags(session: PrivasiSession, breach: Breach, policy: Policy) -> None:
    """Minor and specific-data marks of every affected subject, from the policy in effect."""
    rows = list(session.scalars(select(BreachSubject).where(BreachSubject.breach_id == breach.id)))
    if not rows:
        return
    minors = subjects.minors_among(session, [r.subject_id for r in rows], policy)
    specific = {c.id for c in policy.categories if c.sensitivity is Sensitivity.specific}
    for row in rows:
        row.minor = row.subject_id in minors
        row.specific = bool(specific & set(row.categories))
    session.flush()


def _window_end(breach: Breach) -> Any:
    return breach.occurred_until or breach.detected_at


def _privasi_subjects(session: PrivasiSession, breach: Breach) -> list[str]:
    """Subjects on record when the breach ended, with identifiers still held (not erased)."""
    has_identifier = (
        select(SubjectIdentifier.id).where(SubjectIdentifier.subject_id == Subject.id).exists()
    )
    query = (
        select(Subject.id)
        .where(Subject.created_at <= _window_end(breach), Subject.merged_into.is_(None))
        .where(has_identifier)
        .limit(MAX_ROWS)
    )
    return list(session.scalars(query))


def _table_values(conn: sa.Connection, mapped: Any, breach: Breach) -> list[str]:
    """Identity values of the rows collected before the breach ended (all rows when the table
    declares no ``collected`` timestamp)."""
    spec = mapped.spec
    target = mapped.parent if mapped.parent is not None else mapped
    query = select(target.identity).distinct()
    collected = spec.timestamps.get("collected")
    if mapped.parent is not None and mapped.parent_key is not None:
        keys = select(mapped.identity)
        if collected:
            keys = keys.where(mapped.table.c[collected] <= _window_end(breach))
        query = query.where(mapped.parent_key.in_(keys.scalar_subquery()))
    elif collected:
        query = query.where(mapped.table.c[collected] <= _window_end(breach))
    query = query.where(target.identity.is_not(None)).limit(MAX_ROWS)
    return [str(v) for v in conn.scalars(query) if str(v).strip()]


def _sql_subjects(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    system: System,
    wanted: set[str],
    result: Found,
) -> dict[str, set[str]]:
    from privasi.connectors import sql
    from privasi.connectors.tables import ConnectorError, describe

    found: dict[str, set[str]] = {}
    try:
        engine, mapped_tables = sql.connect(session, system)
        with engine.connect() as conn:
            for mapped in mapped_tables:
                spec = mapped.spec
                touched = {c.category for c in spec.columns} & wanted
                if not touched:
                    continue
                owner = spec if mapped.parent is None else mapped.parent.spec
                kind = owner.match_kind()
                values = _table_values(conn, mapped, breach)
                ids = subjects.resolve(session, [(kind, v) for v in values])
                for value, subject_id in zip(values, ids, strict=True):
                    if subject_id is None:
                        subject_id = _create(session, principal, kind, value, owner.subject_kind)
                        if subject_id is None:
                            result.unmatched += 1
                            continue
                        result.created_subjects += 1
                    found.setdefault(subject_id, set()).update(touched)
    except ConnectorError as exc:
        result.errors[system.id] = str(exc)[:200]
    except sa.exc.SQLAlchemyError as exc:
        result.errors[system.id] = describe(exc)
    return found


def _create(
    session: PrivasiSession, principal: Principal, kind: str, value: str, subject_kind: str | None
) -> str | None:
    try:
        return subjects.find_or_create(session, principal, {kind: value}, kind=subject_kind).id
    except ValidationFailed:
        return None  # not a valid address or number of its kind: counted, never shown


def discover(session: PrivasiSession, principal: Principal, breach: Breach) -> Found:
    """Find the affected subjects from the data map and add them to the breach."""
    service._require_open(breach)
    policy = policies.current_policy(session)
    systems, wanted = _scope(policy, breach)
    result = Found()
    found: dict[str, set[str]] = {}
    for system in systems:
        touched = set(system.all_categories()) & wanted
        if not touched:
            continue
        kind = system.kind.value
        if kind == "privasi":
            ids = _privasi_subjects(session, breach)
            for subject_id in ids:
                found.setdefault(subject_id, set()).update(touched)
            result.systems[system.id] = len(ids)
        elif kind == "sql":
            from_sql = _sql_subjects(session, principal, breach, system, wanted, result)
            for subject_id, categories in from_sql.items():
                found.setdefault(subject_id, set()).update(categories)
            result.systems[system.id] = len(from_sql)
        else:
            result.needs_import.append(system.id)
    _record(session, breach, found, "data_map", result)
    refresh_flags(session, breach, policy)
    service.event(
        session,
        principal,
        breach,
        "affected_discovered",
        added=result.added,
        created_subjects=result.created_subjects,
        unmatched=result.unmatched,
        systems=sorted(result.systems),
        needs_import=result.needs_import,
        failed_systems=sorted(result.errors),
    )
    return result


def parse_list(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs from a CSV with a header naming columns ``email``, ``phone``,
    ``whatsapp`` or ``external``, or from one value a line (an ``@`` makes it an e-mail)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValidationFailed("the list is empty", field="list")
    if len(lines) > MAX_ROWS + 1:
        raise ValidationFailed(f"at most {MAX_ROWS} rows per list", field="list")
    reader = csv.reader(io.StringIO("\n".join(lines)))
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    columns = [(i, h) for i, h in enumerate(header) if h in IMPORT_KINDS]
    pairs: list[tuple[str, str]] = []
    if columns:
        for row in rows[1:]:
            for i, kind in columns:
                value = row[i].strip() if i < len(row) else ""
                if value:
                    pairs.append((kind, value))
        return pairs
    for row in rows:
        value = row[0].strip() if row else ""
        if value:
            pairs.append(("email" if "@" in value else "phone", value))
    return pairs


def import_list(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    pairs: list[tuple[str, str]],
    categories: list[str] | None = None,
) -> Found:
    """Add the subjects a list names (matched by blind index); names nobody matches are
    counted as unmatched and otherwise forgotten."""
    service._require_open(breach)
    policy = policies.current_policy(session)
    chosen = list(dict.fromkeys(categories or breach.categories))
    if not chosen:
        raise ValidationFailed(
            "name the categories the listed people had exposed, or set the breach's categories",
            field="categories",
        )
    service._check_scope(policy, [], chosen)
    result = Found()
    ids = subjects.resolve(session, pairs)
    found: dict[str, set[str]] = {}
    for subject_id in ids:
        if subject_id is None:
            result.unmatched += 1
        else:
            found.setdefault(subject_id, set()).update(chosen)
    _record(session, breach, found, "import", result)
    refresh_flags(session, breach, policy)
    service.event(
        session,
        principal,
        breach,
        "affected_imported",
        rows=len(pairs),
        added=result.added,
        unmatched=result.unmatched,
        categories=chosen,
    )
    return result


def affected_rows(session: PrivasiSession, breach: Breach) -> list[BreachSubject]:
    return list(
        session.scalars(
            select(BreachSubject)
            .where(BreachSubject.breach_id == breach.id)
            .order_by(BreachSubject.created_at, BreachSubject.id)
        )
    )


def counts(session: PrivasiSession, breach: Breach) -> dict[str, Any]:
    """How many people, per category, and the share of minors and of specific data."""
    rows = affected_rows(session, breach)
    total = len(rows)
    per_category: dict[str, int] = {}
    for row in rows:
        for category in row.categories:
            per_category[category] = per_category.get(category, 0) + 1
    minors = sum(1 for r in rows if r.minor)
    specific = sum(1 for r in rows if r.specific)

    def share(n: int) -> float:
        return round(100.0 * n / total, 1) if total else 0.0

    return {
        "total": total,
        "per_category": dict(sorted(per_category.items())),
        "minors": minors,
        "minors_share": share(minors),
        "specific": specific,
        "specific_share": share(specific),
        "by_source": {
            source: sum(1 for r in rows if r.source == source) for source in ("data_map", "import")
        },
    }
