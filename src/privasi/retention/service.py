"""Retention: the plan (what each rule would remove now), runs, clocks, holds and evidence.

The API, the CLI, the worker and the staff pages all call these functions. Each finished run
leaves one audit event with the rule, the counts per system, the time window and a digest of the
affected keys; ``report`` gathers them for auditors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.connectors import sql as sql_connector
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict, NotFound, ValidationFailed
from privasi.orgs.service import Principal, system_principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy, RetentionRule
from privasi.policy.vocab import StartEvent
from privasi.retention import holds, own, rules, statements, sweep
from privasi.retention.evidence import evidence, get_run, report, runs
from privasi.retention.holds import HoldItem, erasure_held
from privasi.retention.models import RetentionClock, RetentionRun
from privasi.retention.rules import PrivasiTarget, TableTarget
from privasi.subjects import service as subjects

__all__ = [
    "HoldItem",
    "blocking_holds",
    "dashboard_summary",
    "erasure_held",
    "evidence",
    "get_run",
    "report",
    "runs",
]

log = logging.getLogger("privasi.retention")
RUN_URL = "/admin/retention#run-{id}"


# --- the dashboard's contract ------------------------------------------------------------------


@dataclass(frozen=True)
class RunItem:
    id: str
    rule_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    deleted: int
    anonymised: int
    url: str


@dataclass(frozen=True)
class RetentionSummary:
    last_runs: list[RunItem]
    active_holds: list[HoldItem]


def run_item(run: RetentionRun) -> RunItem:
    return RunItem(
        id=run.id,
        rule_id=run.rule_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        deleted=run.deleted,
        anonymised=run.anonymised,
        url=RUN_URL.format(id=run.id),
    )


def dashboard_summary(session: PrivasiSession, now: datetime) -> RetentionSummary:
    """The five latest runs (newest first) and the holds in force at ``now``."""
    runs = session.scalars(
        select(RetentionRun)
        .where(RetentionRun.started_at <= now)
        .order_by(RetentionRun.started_at.desc(), RetentionRun.id)
        .limit(5)
    )
    active = [h for h in holds.active(session) if h.created_at <= now]
    return RetentionSummary([run_item(r) for r in runs], [holds.item(h) for h in active])


def blocking_holds(
    session: PrivasiSession,
    *,
    subject_id: str | None = None,
    categories: Iterable[str] = (),
    system: str | None = None,
) -> list[HoldItem]:
    return holds.blocking(session, subject_id=subject_id, categories=categories, system=system)


# --- clocks --------------------------------------------------------------------------------------


def record_clock(
    session: PrivasiSession,
    principal: Principal,
    subject_id: str,
    event: str,
    occurred_at: datetime | None = None,
) -> RetentionClock:
    """Record that an event starting a retention period happened for a subject. A later
    ``last_interaction`` moves the clock on; the other events keep their first time."""
    try:
        kind = StartEvent(event)
    except ValueError:
        raise ValidationFailed(
            f"event is one of {', '.join(e.value for e in rules.SUBJECT_EVENTS)}", field="event"
        ) from None
    if kind not in rules.SUBJECT_EVENTS:
        raise ValidationFailed(
            "collected and consent_withdrawn are known to privasi already", field="event"
        )
    subjects.get_subject(session, subject_id)
    at = occurred_at or utcnow()
    if at.tzinfo is None:
        raise ValidationFailed("give the time with its offset", field="occurred_at")
    clock = session.scalar(
        select(RetentionClock).where(
            RetentionClock.subject_id == subject_id, RetentionClock.event == kind.value
        )
    )
    if clock is None:
        clock = RetentionClock(subject_id=subject_id, event=kind.value, occurred_at=at)
        session.add(clock)
    elif kind is StartEvent.last_interaction and at > clock.occurred_at:
        clock.occurred_at, clock.recorded_at = at, utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        "retention.clock_recorded",
        subject_id=subject_id,
        details={"event": kind.value},
    )
    return clock


def clocks_of(session: PrivasiSession, subject_id: str) -> list[RetentionClock]:
    subjects.get_subject(session, subject_id)
    return list(
        session.scalars(
            select(RetentionClock)
            .where(RetentionClock.subject_id == subject_id)
            .order_by(RetentionClock.event)
        )
    )


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class PlanItem:
    rule_id: str
    system_id: str
    table: str | None
    action: str  # delete | anonymise | shred
    due: int | None  # None: could not be counted (see problem)
    cutoff: datetime
    problem: str | None = None
    held: int = 0  # due but kept by a legal hold on the subject


@dataclass
class RulePlan:
    rule_id: str
    action: str
    period: str
    start: str
    cutoff: datetime
    items: list[PlanItem] = field(default_factory=list)
    skipped: list[rules.Skip] = field(default_factory=list)

    @property
    def due(self) -> int:
        return sum(i.due or 0 for i in self.items)


def current_policy(session: PrivasiSession) -> Policy:
    return _policy(session)[0]


def _policy(session: PrivasiSession) -> tuple[Policy, int]:
    version = policies.require_current(session)
    return policies.to_policy(session, version), version.number


def rule_of(policy: Policy, rule_id: str) -> RetentionRule:
    for rule in policy.retention.rules:
        if rule.id == rule_id:
            return rule
    raise NotFound(f"the policy in effect has no retention rule '{rule_id}'")


def _count_subjects(
    session: PrivasiSession, policy: Policy, rule: RetentionRule, now: datetime, held: set[str]
) -> int:
    total, after = 0, ""
    while True:
        expired, last = own.expired_subjects(session, policy, rule, now, held, after, 1000)
        if last is None:
            return total
        total, after = total + len(expired), last


def plan(session: PrivasiSession, now: datetime | None = None) -> list[RulePlan]:
    """What each rule would delete or anonymise at ``now``, counted per system and table."""
    now = now or utcnow()
    policy, _ = _policy(session)
    held_subjects, held_categories, held_systems = holds.held_sets(session)
    plans = []
    for rule in policy.retention.rules:
        bound = rules.cutoff(rule, now)
        found = rules.reach(policy, rule, held_categories, held_systems)
        entry = RulePlan(
            rule.id,
            rule.action.value,
            rule.period.iso(),
            rule.start.value,
            bound,
            skipped=found.skipped,
        )
        for target in found.targets:
            entry.items.append(_plan_item(session, policy, rule, target, now, held_subjects))
        plans.append(entry)
    return plans


def _plan_item(
    session: PrivasiSession,
    policy: Policy,
    rule: RetentionRule,
    target: rules.Target,
    now: datetime,
    held_subjects: set[str],
) -> PlanItem:
    bound = rules.cutoff(rule, now)
    if isinstance(target, PrivasiTarget):
        if target.kind == "subjects":

            def subjects_due(held: set[str]) -> int:
                return _count_subjects(session, policy, rule, now, held)

            n = subjects_due(held_subjects)
            kept = subjects_due(set()) - n if held_subjects else 0
            return PlanItem(rule.id, target.system_id, "subjects", "shred", n, bound, held=kept)

        def consents_due(held: set[str]) -> int:
            return sum(
                int(own.withdrawn(session, p, bound, held, "", 0, counting=True))
                for p in target.purposes
            )

        n = consents_due(held_subjects)
        kept = consents_due(set()) - n if held_subjects else 0
        return PlanItem(rule.id, target.system_id, "consent", "delete", n, bound, held=kept)
    assert isinstance(target, TableTarget)
    action = "delete" if target.delete_rows else rule.action.value
    try:
        system = sql_connector.system_of(session, target.system_id)
        engine, mapped_all = sql_connector.connect(session, system)
        mapped = next(m for m in mapped_all if m.spec.name == target.spec.name)
        held = sweep.held_values_for(session, held_subjects, mapped_all, target)
        n = statements.count_table(engine, target, mapped, bound, held)
        kept = statements.count_table(engine, target, mapped, bound, []) - n if held else 0
    except Exception as exc:  # a broken system is shown in the plan, not fatal to it
        return PlanItem(
            rule.id, target.system_id, target.spec.name, action, None, bound, type(exc).__name__
        )
    return PlanItem(rule.id, target.system_id, target.spec.name, action, n, bound, held=kept)


# --- runs ----------------------------------------------------------------------------------------


def _start(
    db: Database, org_id: str, rule_id: str, now: datetime, owner: str, trigger: str, actor: str
) -> tuple[str, Policy, RetentionRule]:
    """The rule's unfinished run (resumed with its own moment) or a new one; leased to ``owner``."""
    with db.session(org_id) as session:
        policy, number = _policy(session)
        rule = rule_of(policy, rule_id)
        query = select(RetentionRun).where(
            RetentionRun.rule_id == rule_id, RetentionRun.status == "running"
        )
        if db.is_postgres:
            query = query.with_for_update()
        run = session.scalar(query.order_by(RetentionRun.started_at).limit(1))
        real_now = utcnow()
        if run is None:
            run = RetentionRun(
                rule_id=rule_id,
                policy_version=number,
                trigger=trigger,
                actor=actor[:100],
                as_of=now,
                progress={},
            )
            session.add(run)
            principal = system_principal(org_id, actor[:60] or "retention")
            session.flush()
            audit.record(
                session,
                principal,
                "retention.run_started",
                details={"run_id": run.id, "rule": rule_id, "as_of": now.isoformat()},
            )
        elif (
            run.leased_by not in (None, owner)
            and run.lease_until is not None
            and run.lease_until > real_now
        ):
            raise Conflict("this rule is being swept by another process; try again later")
        run.leased_by = owner
        run.lease_until = real_now + sweep.LEASE
        return run.id, policy, rule


def run_rule(
    db: Database,
    org_id: str,
    rule_id: str,
    *,
    now: datetime | None = None,
    owner: str,
    actor: str = "retention",
    trigger: str = "manual",
    beat: sweep.Beat | None = None,
    batch_rows: int | None = None,
) -> RetentionRun:
    """Sweep one rule to the end (resuming its unfinished run first) and record the evidence."""
    run_id, policy, rule = _start(db, org_id, rule_id, now or utcnow(), owner, trigger, actor)
    runner = sweep.Runner(
        db, org_id, run_id, policy, rule, owner=owner, beat=beat, batch_rows=batch_rows
    )
    try:
        runner.run()
    except Conflict:
        raise
    except Exception as exc:
        with db.session(org_id) as session:
            run = session.get(RetentionRun, run_id)
            if run is not None and run.leased_by == owner:
                # Left "running" with its progress: the next run resumes it.
                run.error = type(exc).__name__
                run.lease_until = None
                run.leased_by = None
        raise
    return _finish(db, org_id, run_id, owner)


def _finish(db: Database, org_id: str, run_id: str, owner: str) -> RetentionRun:
    with db.session(org_id) as session:
        run = session.get(RetentionRun, run_id)
        assert run is not None
        run.status = "done"
        run.finished_at = utcnow()
        run.leased_by = None
        run.lease_until = None
        run.error = None
        policy = policies.current_policy(session)
        rule = rule_of(policy, run.rule_id)
        counts = {k: int(v.get("count", 0)) for k, v in (run.progress or {}).items()}
        audit.record(
            session,
            system_principal(org_id, (run.actor or "retention")[:60]),
            "retention.run_finished",
            details={
                "run_id": run.id,
                "rule": run.rule_id,
                "action": rule.action.value,
                "policy_version": run.policy_version,
                "as_of": run.as_of.isoformat(),
                "window_end": rules.cutoff(rule, run.as_of).isoformat(),
                "deleted": run.deleted,
                "anonymised": run.anonymised,
                "shredded": run.shredded,
                "batches": run.batches,
                "counts": counts,
                "keys_digest": run.digest,
            },
            count=run.deleted + run.anonymised,
        )
        return run


def run_all(
    db: Database,
    org_id: str,
    *,
    now: datetime | None = None,
    owner: str,
    actor: str = "retention",
    trigger: str = "manual",
    beat: sweep.Beat | None = None,
    only: str | None = None,
) -> list[RetentionRun]:
    with db.session(org_id) as session:
        policy, _ = _policy(session)
    ids = [r.id for r in policy.retention.rules if only in (None, r.id)]
    if only is not None and not ids:
        raise NotFound(f"the policy in effect has no retention rule '{only}'")
    return [
        run_rule(db, org_id, rule_id, now=now, owner=owner, actor=actor, trigger=trigger, beat=beat)
        for rule_id in ids
    ]
