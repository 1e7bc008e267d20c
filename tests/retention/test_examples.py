"""Every retention rule of the five example policies, on generated rows placed either side of the
rule's cut-off, with time travel: what has run out at T0 is removed (or anonymised) once, what has
not is left exactly as it was, and is removed when its time comes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from privasi.audit import service as audit
from privasi.audit.models import AuditEvent
from privasi.retention import service as retention

from .conftest import T0, naive

EXAMPLES = ["aspire", "crm", "cybernet", "digimetalab", "tekino"]
MARGIN = timedelta(days=10)


def _reaches(rule: Any, table: dict[str, Any]) -> bool:
    """Read straight from the policy: the rule's categories are in the table and the table
    declares a timestamp for the rule's start event."""
    cats = {c["category"] for c in table["columns"]}
    scoped = set(rule.categories) & cats if rule.categories else cats
    return bool(scoped) and rule.start.value in table.get("timestamps", {})


def _kept(rule: Any) -> Any:
    return rule.minimum if rule.minimum is not None and rule.minimum > rule.period else rule.period


def _seed(biz: Any, policy: Any) -> dict[tuple[str, str, str], dict[str, list[int]]]:
    """Rows around each (rule, table) cut-off; returns the ids expected due now / later / never."""
    expected: dict[tuple[str, str, str], dict[str, list[int]]] = {}
    next_id = 1
    for system in biz.doc["systems"]:
        if system["kind"] != "sql":
            continue
        for table in system["tables"]:
            short = table["name"].rpartition(".")[2]
            rows = []
            for rule in policy.retention.rules:
                if not _reaches(rule, table):
                    continue
                stamp = table["timestamps"][rule.start.value]
                period = _kept(rule)
                # Calendar arithmetic of the policy's own Period decides what is due.
                due_at = T0 - period.approx_timedelta() - MARGIN
                later_at = T0 - period.approx_timedelta() + MARGIN
                assert period.add_to(due_at) <= T0 < period.add_to(later_at)
                ids: dict[str, list[int]] = {"now": [], "later": [], "never": []}
                states = [None]
                if table.get("state_column"):
                    states = [*rule.subject_states, *rule.unless_states] or ["lead"]
                for state in states:
                    bucket_ok = state is None or (
                        state not in rule.unless_states
                        and (not rule.subject_states or state in rule.subject_states)
                    )
                    for when, bucket in ((due_at, "now"), (later_at, "later"), (None, "never")):
                        row: dict[str, Any] = {"id": next_id}
                        for column in [
                            table["identity_column"],
                            *(c["name"] for c in table["columns"]),
                        ]:
                            row[column] = f"nilai-{column}-{next_id}@contoh.example"
                        if table.get("state_column"):
                            row[table["state_column"]] = state
                        row[stamp] = naive(when) if when is not None else None
                        rows.append(row)
                        ids[bucket if bucket_ok else "never"].append(next_id)
                        next_id += 1
                expected[(rule.id, system["id"], short)] = ids
            if rows:
                keys = {k for r in rows for k in r}
                biz.insert(system["id"], short, [{k: r.get(k) for k in keys} for r in rows])
    return expected


def _check_done(
    biz: Any, policy: Any, rule_id: str, system: str, table: str, ids: list[int]
) -> None:
    rule = next(r for r in policy.retention.rules if r.id == rule_id)
    spec = next(
        t
        for s in biz.doc["systems"]
        if s["id"] == system
        for t in s["tables"]
        if t["name"].endswith(table)
    )
    rows = {r["id"]: r for r in biz.rows(system, table)}
    scoped = [
        c["name"]
        for c in spec["columns"]
        if not rule.categories or c["category"] in rule.categories
    ]
    whole = len(scoped) == len(spec["columns"])
    for i in ids:
        if rule.action.value == "delete" and whole:
            assert i not in rows, f"{rule_id}: row {i} of {table} should be deleted"
            continue
        row = rows[i]
        for column in scoped:
            assert row[column] != f"nilai-{column}-{i}@contoh.example", (rule_id, table, column)
        if rule.action.value == "anonymise":
            assert str(row[spec["identity_column"]]).startswith("anon-")


def _unchanged(biz: Any, system: str, table: str, ids: list[int]) -> None:
    rows = {r["id"]: r for r in biz.rows(system, table)}
    for i in ids:
        assert i in rows
        for name, value in rows[i].items():
            if isinstance(value, str) and name != "status":
                assert value == f"nilai-{name}-{i}@contoh.example"


def _plan_due(db: Any, org_id: str, now: datetime) -> dict[tuple[str, str, str | None], int | None]:
    with db.session(org_id) as s:
        plans = retention.plan(s, now)
    return {
        (i.rule_id, i.system_id, i.table and i.table.rpartition(".")[2]): i.due
        for p in plans
        for i in p.items
    }


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_rule_on_generated_rows_with_time_travel(db: Any, business: Any, example: str) -> None:
    biz = business(example)
    policy = biz.policy()
    expected = _seed(biz, policy)

    due = _plan_due(db, biz.org_id, T0)
    with db.session(biz.org_id) as s:
        planned_rules = {p.rule_id for p in retention.plan(s, T0)}
    assert planned_rules == {r.id for r in policy.retention.rules}
    for (rule_id, system, table), ids in expected.items():
        assert due.get((rule_id, system, table)) == len(ids["now"]), (rule_id, table)

    runs = retention.run_all(db, biz.org_id, now=T0, owner="test")
    for (rule_id, system, table), ids in expected.items():
        _check_done(biz, policy, rule_id, system, table, ids["now"])
        _unchanged(biz, system, table, ids["later"] + ids["never"])
    by_rule = {r.rule_id: r for r in runs}
    for (rule_id, system, table), ids in expected.items():
        counted = by_rule[rule_id].progress[
            f"{system}:{next(t['name'] for s in biz.doc['systems'] if s['id'] == system for t in s['tables'] if t['name'].endswith(table))}"
        ]["count"]
        assert counted == len(ids["now"])

    # Nothing is done twice: the same moment again finds nothing.
    assert all(
        v in (0, None)
        for k, v in _plan_due(db, biz.org_id, T0).items()
        if k[2] not in ("subjects", "consent")
    )
    again = retention.run_all(db, biz.org_id, now=T0, owner="test")
    assert sum(r.deleted + r.anonymised for r in again) == 0

    # Twenty days on, the rows that were inside their period have run out too.
    later = T0 + 2 * MARGIN
    due_later = _plan_due(db, biz.org_id, later)
    for (rule_id, system, table), ids in expected.items():
        assert due_later.get((rule_id, system, table)) == len(ids["later"]), (rule_id, table)
    retention.run_all(db, biz.org_id, now=later, owner="test")
    for (rule_id, system, table), ids in expected.items():
        _check_done(biz, policy, rule_id, system, table, ids["now"] + ids["later"])
        _unchanged(biz, system, table, ids["never"])

    # Each run left its evidence in the audit chain, which still verifies.
    with db.session(biz.org_id) as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run_finished"))
        )
        assert len(events) == 3 * len(policy.retention.rules)
        for event in events:
            assert {"rule", "counts", "window_end", "keys_digest", "as_of"} <= set(event.details)
        assert audit.verify(s, biz.org_id).ok
