"""What each retention rule of the policy reaches, decided from the policy alone.

A rule reaches three kinds of data:

- **subject records in privasi** (identifiers, consents, the profile): for a rule whose clock is an
  event of the person's life with the business (last interaction, contract end, project
  completed, account closed). A record ends, by a shred of the person's key, only when *every*
  rule that covers the person and whose clock has started has run out, so a longer duty (tax
  records) keeps the record that lets staff find the person elsewhere;
- **consent records in privasi**: for a rule started by ``consent_withdrawn`` over categories of
  consent-based purposes that privasi's own system holds (marketing preferences);
- **tables of ``sql`` systems**: those with a declared timestamp column for the rule's start event
  and columns of the rule's categories.

Everything a rule cannot reach safely is reported with a reason rather than guessed at.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from privasi.policy.periods import Period
from privasi.policy.schema import Policy, RetentionRule
from privasi.policy.systems import System
from privasi.policy.systems import Table as TableSpec
from privasi.policy.vocab import Erasure, LegalBasis, RetentionAction, StartEvent

SUBJECT_EVENTS = frozenset(
    {
        StartEvent.last_interaction,
        StartEvent.contract_end,
        StartEvent.project_completed,
        StartEvent.account_closed,
    }
)
ColumnOp = Literal["token", "null", "keep", "year", "decade"]
TOKEN_PREFIX = "anon-"


def subtract(period: Period, when: datetime) -> datetime:
    """``when`` minus the period, by the calendar (the inverse of ``Period.add_to``)."""
    month_index = when.month - 1 - period.months - 12 * period.years
    year = when.year + month_index // 12
    month = month_index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    moved = when.replace(year=year, month=month, day=day)
    return moved - timedelta(weeks=period.weeks, days=period.days, hours=period.hours)


def categories_of(policy: Policy, rule: RetentionRule) -> set[str]:
    """The categories a rule covers: its own, or its purposes' (both given: where they meet).
    Empty means the rule is scoped by subject state only, and covers every category."""
    by_purpose = {c for p in policy.purposes if p.id in rule.purposes for c in p.categories}
    if rule.categories and rule.purposes:
        return set(rule.categories) & by_purpose
    return set(rule.categories) or by_purpose


def kept_for(rule: RetentionRule) -> Period:
    """How long the rule keeps data: its period, never less than its minimum."""
    if rule.minimum is not None and rule.minimum > rule.period:
        return rule.minimum
    return rule.period


def cutoff(rule: RetentionRule, now: datetime) -> datetime:
    """Data whose clock started at or before this moment has run out at ``now``."""
    return subtract(kept_for(rule), now)


def expires_at(rule: RetentionRule, start: datetime) -> datetime:
    result: datetime = kept_for(rule).add_to(start)
    return result


@dataclass(frozen=True)
class Skip:
    """A part of the data map a rule would reach but leaves alone, and why (a stable code)."""

    system_id: str
    table: str | None
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class TableTarget:
    system_id: str
    spec: TableSpec
    timestamp: str
    delete_rows: bool
    ops: dict[str, ColumnOp] = field(default_factory=dict)
    state_column: str | None = None
    states: tuple[str, ...] = ()
    unless_states: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.system_id}:{self.spec.name}"

    @property
    def markers(self) -> dict[str, ColumnOp]:
        """Columns whose value shows whether a row was already done (tokens and emptied ones)."""
        return {n: op for n, op in self.ops.items() if op in ("token", "null")}


@dataclass(frozen=True)
class PrivasiTarget:
    system_id: str
    kind: Literal["subjects", "consent"]
    purposes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.system_id}:{self.kind}"


Target = TableTarget | PrivasiTarget


@dataclass
class Reach:
    targets: list[Target] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


def privasi_system(policy: Policy) -> System | None:
    return next((s for s in policy.systems if s.kind.value == "privasi"), None)


def _anonymise_op(spec: TableSpec, name: str, erasure: Erasure, given: ColumnOp | None) -> ColumnOp:
    if given is not None:
        return given
    if erasure in (Erasure.hash, Erasure.mask) or name == spec.identity_column:
        return "token"
    return "null"


def table_target(
    policy: Policy, rule: RetentionRule, system: System, spec: TableSpec, held: set[str]
) -> TableTarget | Skip | None:
    """What the rule does to one table, a reason to leave it, or None when it does not reach it."""
    timestamp = spec.timestamps.get(rule.start)
    scope = categories_of(policy, rule)
    columns = [c for c in spec.columns if not scope or c.category in scope]
    if not columns:
        return None
    if timestamp is None:
        return Skip(system.id, spec.name, "no_timestamp", rule.start.value)
    if rule.subject_states and spec.subject_kind is not None:
        kind_states = {s.id for k in policy.subjects if k.id == spec.subject_kind for s in k.states}
        if kind_states and not kind_states & set(rule.subject_states):
            return None
    if rule.unless_states and spec.state_column is None:
        # Without the state we cannot tell a lead from a client: keep rather than guess.
        return Skip(system.id, spec.name, "no_state_column", ",".join(rule.unless_states))
    held_here = sorted({c.category for c in columns} & held)
    all_columns = {c.name for c in spec.columns}
    whole_row = {c.name for c in columns} == all_columns
    delete_rows = rule.action is RetentionAction.delete and whole_row
    if delete_rows and {c.category for c in spec.columns} & held:
        return Skip(system.id, spec.name, "legal_hold", ",".join(sorted(held_here)))
    ops: dict[str, ColumnOp] = {}
    if not delete_rows:
        for column in columns:
            if column.category in held:
                continue
            if rule.action is RetentionAction.anonymise:
                ops[column.name] = _anonymise_op(
                    spec, column.name, column.erasure, column.anonymise
                )
            else:
                ops[column.name] = "null"
        if rule.action is RetentionAction.anonymise and spec.identity_column not in ops:
            # Anonymised rows must not lead back to the person through the column that finds them.
            ops[spec.identity_column] = "token"
        if not any(op in ("token", "null") for op in ops.values()):
            if held_here:
                return Skip(system.id, spec.name, "legal_hold", ",".join(held_here))
            return Skip(system.id, spec.name, "nothing_to_mark")
    return TableTarget(
        system_id=system.id,
        spec=spec,
        timestamp=timestamp,
        delete_rows=delete_rows,
        ops=ops,
        state_column=spec.state_column if (rule.subject_states or rule.unless_states) else None,
        states=tuple(rule.subject_states),
        unless_states=tuple(rule.unless_states),
    )


def consent_purposes(policy: Policy, rule: RetentionRule, held: set[str]) -> list[str]:
    own = privasi_system(policy)
    covered = categories_of(policy, rule)
    scope = covered - held
    if own is not None and not (set(own.categories) & scope):
        return []
    return [
        p.id
        for p in policy.purposes
        if p.legal_basis is LegalBasis.consent
        and (not covered or set(p.categories) & scope)
        and (not rule.purposes or p.id in rule.purposes)
    ]


def reach(
    policy: Policy, rule: RetentionRule, held_categories: set[str], held_systems: set[str]
) -> Reach:
    """Every target of the rule in the data map, and what it leaves alone with the reason."""
    found = Reach()
    own = privasi_system(policy)
    own_id = own.id if own is not None else "privasi"
    covered = categories_of(policy, rule)
    if own_id in held_systems:
        found.skipped.append(Skip(own_id, None, "legal_hold", "system"))
    elif rule.start in SUBJECT_EVENTS:
        if covered & held_categories:
            found.skipped.append(
                Skip(own_id, None, "legal_hold", ",".join(sorted(covered & held_categories)))
            )
        else:
            found.targets.append(PrivasiTarget(own_id, "subjects"))
    elif rule.start is StartEvent.consent_withdrawn:
        purposes = consent_purposes(policy, rule, held_categories)
        if purposes:
            found.targets.append(PrivasiTarget(own_id, "consent", tuple(purposes)))
    if own is not None and not found.targets and set(own.categories) & covered:
        # privasi is declared to hold these categories but keeps no records of them itself.
        found.skipped.append(Skip(own_id, None, "not_kept_by_privasi"))
    for system in policy.systems:
        if system.kind.value in ("http", "manual"):
            # privasi cannot reach into these: staff or the business act on the plan's list.
            if set(system.all_categories()) & covered:
                found.skipped.append(Skip(system.id, None, f"{system.kind.value}_system"))
            continue
        if system.kind.value != "sql":
            continue
        if system.id in held_systems:
            found.skipped.append(Skip(system.id, None, "legal_hold", "system"))
            continue
        for spec in system.tables:
            result = table_target(policy, rule, system, spec, held_categories)
            if isinstance(result, Skip):
                found.skipped.append(result)
            elif result is not None:
                found.targets.append(result)
    return found


def subject_rules(policy: Policy) -> list[RetentionRule]:
    return [r for r in policy.retention.rules if r.start in SUBJECT_EVENTS]


def covers_state(rule: RetentionRule, state: str | None) -> bool:
    if rule.subject_states and state not in rule.subject_states:
        return False
    return not (state is not None and state in rule.unless_states)


def record_expired(
    rules: list[RetentionRule], state: str | None, clocks: dict[str, datetime], now: datetime
) -> bool:
    """Whether a subject's whole record has run out: at least one rule covering the person has a
    started clock, and every such rule has run out."""
    started = [r for r in rules if covers_state(r, state) and clocks.get(r.start.value) is not None]
    return bool(started) and all(expires_at(r, clocks[r.start.value]) <= now for r in started)
