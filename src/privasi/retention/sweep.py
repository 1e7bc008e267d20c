"""Sweeps: one rule enforced at one moment, in bounded batches, resumable after any crash.

A run keeps the moment it enforces (``as_of``), so a run resumed later removes exactly what had
run out when it started. Each target is walked in primary-key order (keyset paging, never
re-reading what is done) in batches of ``BATCH_ROWS`` rows:

- in a business database, the batch's keys are first committed to the run as ``pending``; then
  one statement deletes or anonymises those rows (re-checking that they are still due and not
  done, so a replay changes nothing twice) in one transaction there; then the run records the
  batch. A process killed anywhere leaves at most one pending batch, which the next process
  applies again before going on: every row is done once, whole, and counted once;
- in privasi's own store, the batch and its bookkeeping share one transaction; the shred of a
  subject's key comes first and is idempotent, so a crash between the two only shreds again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from privasi.connectors import sql as sql_connector
from privasi.connectors import tables
from privasi.connectors.tables import Mapped
from privasi.consent.models import ConsentEvent, ConsentState
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict
from privasi.policy.schema import Policy, RetentionRule
from privasi.policy.vocab import RetentionAction
from privasi.retention import holds, rules
from privasi.retention.models import RetentionClock, RetentionRun
from privasi.retention.rules import PrivasiTarget, TableTarget
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject
from privasi.vault.service import vault_for

BATCH_ROWS = 10_000
LEASE = timedelta(minutes=2)
Beat = Callable[[], object]


def batch_digest(keys: list[Any]) -> str:
    """SHA-256 of a batch's keys in order (JSON): anyone holding the keys can show it."""
    return hashlib.sha256(json.dumps(keys, separators=(",", ":"), default=str).encode()).hexdigest()


def _digest(previous: str, batch: str) -> str:
    """The run's digest: each batch's digest chained onto the previous value."""
    return hashlib.sha256((previous + batch).encode()).hexdigest()


# --- statements on a business table ------------------------------------------------------------


def _bound(column: sa.Column[Any], moment: datetime) -> Any:
    """The cut-off as the column stores times: naive UTC where the column keeps no zone."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return moment if kind.timezone else moment.astimezone(UTC).replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return moment.date()
    if isinstance(kind, sa.String):
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return moment


def _token(conn: Connection, column: sa.Column[Any]) -> Any:
    """A random token per row: irreversible because nothing it is derived from is kept."""
    length = getattr(column.type, "length", None) or 21
    size = max(4, min(16, length - len(rules.TOKEN_PREFIX)))
    if conn.dialect.name == "postgresql":
        random_hex = sa.func.substr(
            sa.func.md5(
                sa.cast(sa.func.random(), sa.Text) + sa.cast(sa.func.clock_timestamp(), sa.Text)
            ),
            1,
            size,
        )
    else:
        random_hex = sa.func.substr(sa.func.lower(sa.func.hex(sa.func.randomblob(8))), 1, size)
    return sa.literal(rules.TOKEN_PREFIX) + random_hex


def _is_text(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.String | sa.Text)


def _value(conn: Connection, column: sa.Column[Any], op: str) -> Any:
    if op == "token" and _is_text(column):
        return _token(conn, column)
    if op == "year":
        if conn.dialect.name == "postgresql":
            return sa.cast(sa.func.date_trunc("year", column), column.type)
        return sa.func.substr(column, 1, 4) + sa.literal("-01-01")
    if op == "decade":
        return (column // 10) * 10
    return None


def _pending_rows(target: TableTarget, mapped: Mapped) -> sa.ColumnElement[bool]:
    """Rows of an anonymising target that are not done yet."""
    parts = []
    for name, op in target.markers.items():
        column = mapped.table.c[name]
        if op == "token" and _is_text(column):
            parts.append(sa.and_(column.is_not(None), column.not_like(f"{rules.TOKEN_PREFIX}%")))
        else:
            parts.append(column.is_not(None))
    return sa.or_(*parts)


def _due(
    target: TableTarget,
    mapped: Mapped,
    moment: datetime,
    held_values: list[str],
) -> sa.ColumnElement[bool]:
    stamp = mapped.table.c[target.timestamp]
    parts: list[sa.ColumnElement[bool]] = [stamp.is_not(None), stamp <= _bound(stamp, moment)]
    if target.state_column is not None:
        if target.state_column not in mapped.table.c:
            raise tables.ConnectorError(
                f"column '{mapped.name}.{target.state_column}' does not exist"
            )
        state = mapped.table.c[target.state_column]
        if target.states:
            parts.append(state.in_(target.states))
        if target.unless_states:
            parts.append(sa.or_(state.is_(None), state.not_in(target.unless_states)))
    if held_values:
        parts.append(sa.not_(tables.where(mapped, held_values)))
    if not target.delete_rows:
        parts.append(_pending_rows(target, mapped))
    return sa.and_(*parts)


def _key_expr(mapped: Mapped) -> Any:
    return mapped.key[0] if len(mapped.key) == 1 else sa.tuple_(*mapped.key)


def _next_keys(
    conn: Connection, mapped: Mapped, due: sa.ColumnElement[bool], after: Any, n: int
) -> list[Any]:
    """The next batch's keys in key order: plain values for a one-column key, lists otherwise."""
    query = select(*mapped.key).where(due)
    if after is not None:
        bound = after if len(mapped.key) == 1 else sa.tuple_(*after)
        query = query.where(_key_expr(mapped) > bound)
    query = query.order_by(*mapped.key).limit(n)
    if len(mapped.key) == 1:
        result = conn.execute(query)
        if isinstance(mapped.key[0].type, sa.Integer | sa.String):
            # Integer and text keys need no result processing: read the driver's rows directly
            # (building a Row per key costs more than finding it).
            return [row[0] for row in result.cursor.fetchall()]
        return [tables._plain(v) for v in result.scalars().all()]
    rows = conn.execute(query).all()
    return [[v if isinstance(v, int | str) else tables._plain(v) for v in row] for row in rows]


def _batch(key: str, keys: list[Any], single: bool) -> dict[str, Any]:
    """What the run keeps about the batch being applied: its key range (or its keys, for a
    composite key), how many and their digest, so a replay after a crash is counted exactly."""
    batch: dict[str, Any] = {"target": key, "count": len(keys), "digest": batch_digest(keys)}
    if single:
        batch.update(first=keys[0], last=keys[-1])
    else:
        batch["keys"] = keys
    return batch


def _apply(
    conn: Connection,
    target: TableTarget,
    mapped: Mapped,
    due: sa.ColumnElement[bool],
    batch: dict[str, Any],
) -> int:
    if "keys" not in batch:
        # The batch is every due row between its first and last key (keyset order, the same
        # predicate): a range the primary key's index walks, rather than thousands of parameters.
        column = mapped.key[0]
        by_key = sa.and_(column >= batch["first"], column <= batch["last"])
    else:
        by_key = sa.tuple_(*mapped.key).in_([tuple(k) for k in batch["keys"]])
    if target.delete_rows:
        statement: Any = sa.delete(mapped.table).where(by_key, due)
    else:
        values = {
            name: _value(conn, mapped.table.c[name], op)
            for name, op in target.ops.items()
            if op != "keep"
        }
        statement = sa.update(mapped.table).where(by_key, due).values(values)
    return int(conn.execute(statement).rowcount or 0)


def count_table(
    engine: Engine, target: TableTarget, mapped: Mapped, moment: datetime, held: list[str]
) -> int:
    with engine.connect() as conn:
        query = select(sa.func.count()).select_from(mapped.table)
        return int(conn.scalar(query.where(_due(target, mapped, moment, held))) or 0)


# --- privasi's own store -----------------------------------------------------------------------


def _clocks(session: PrivasiSession, ids: list[str]) -> dict[str, dict[str, datetime]]:
    found: dict[str, dict[str, datetime]] = {i: {} for i in ids}
    rows = session.execute(
        select(RetentionClock.subject_id, RetentionClock.event, RetentionClock.occurred_at).where(
            RetentionClock.subject_id.in_(ids)
        )
    )
    for subject_id, event, at in rows:
        found[subject_id][event] = at
    return found


def _open_requests(session: PrivasiSession, ids: list[str]) -> set[str]:
    from privasi.rights.models import OPEN_STATUSES, RightsRequest

    rows = session.scalars(
        select(RightsRequest.subject_id).where(
            RightsRequest.subject_id.in_(ids), RightsRequest.status.in_(OPEN_STATUSES)
        )
    )
    return {r for r in rows if r is not None}


def expired_subjects(
    session: PrivasiSession,
    policy: Policy,
    rule: RetentionRule,
    moment: datetime,
    held: set[str],
    after: str,
    limit: int,
) -> tuple[list[str], str | None]:
    """One page of subjects whose clock for this rule ran out, and of those the ones whose whole
    record has run out (not held, no open request). Returns (expired ids, last id looked at)."""
    bound = rules.cutoff(rule, moment)
    query = (
        select(Subject.id, Subject.state)
        .join(RetentionClock, RetentionClock.subject_id == Subject.id)
        .where(
            RetentionClock.event == rule.start.value,
            RetentionClock.occurred_at <= bound,
            Subject.id > after,
        )
        .order_by(Subject.id)
        .limit(limit)
    )
    if rule.subject_states:
        query = query.where(Subject.state.in_(rule.subject_states))
    if rule.unless_states:
        query = query.where(Subject.state.not_in(rule.unless_states))
    page = list(session.execute(query))
    if not page:
        return [], None
    ids = [row[0] for row in page]
    clocks = _clocks(session, ids)
    busy = _open_requests(session, ids)
    everything = rules.subject_rules(policy)
    expired = [
        sid
        for sid, state in page
        if sid not in held
        and sid not in busy
        and rules.record_expired(everything, state, clocks[sid], moment)
    ]
    return expired, ids[-1]


def _withdrawn(
    session: PrivasiSession,
    purpose: str,
    bound: datetime,
    held: set[str],
    after: str,
    limit: int,
    *,
    counting: bool = False,
) -> Any:
    query = select(ConsentState.subject_id).where(
        ConsentState.purpose == purpose,
        ConsentState.status == "withdrawn",
        ConsentState.changed_at <= bound,
    )
    if held:
        query = query.where(ConsentState.subject_id.not_in(held))
    if counting:
        return session.scalar(select(sa.func.count()).select_from(query.subquery())) or 0
    return list(
        session.scalars(
            query.where(ConsentState.subject_id > after)
            .order_by(ConsentState.subject_id)
            .limit(limit)
        )
    )


# --- runs ----------------------------------------------------------------------------------------


class Runner:
    """Carries one run forward: takes its lease, walks its targets, records its evidence."""

    def __init__(
        self,
        db: Database,
        org_id: str,
        run_id: str,
        policy: Policy,
        rule: RetentionRule,
        *,
        owner: str,
        beat: Beat | None = None,
        batch_rows: int | None = None,
    ) -> None:
        self.db, self.org_id, self.run_id = db, org_id, run_id
        self.policy, self.rule = policy, rule
        self.owner, self.beat = owner, beat
        self.batch = batch_rows or BATCH_ROWS

    # Every bookkeeping write goes through here: it checks that this process still holds the
    # run (another may have taken it over after a lease ran out) and renews the lease.
    def _locked(self, session: PrivasiSession) -> RetentionRun:
        query = select(RetentionRun).where(RetentionRun.id == self.run_id)
        if self.db.is_postgres:
            query = query.with_for_update()
        run = session.scalar(query.execution_options(populate_existing=True))
        if run is None:
            raise Conflict("the retention run is gone")
        if run.leased_by != self.owner:
            raise Conflict("another process took this retention run over")
        run.lease_until = utcnow() + LEASE
        return run

    def _tick(self) -> None:
        if self.beat is not None:
            self.beat()

    def _record(self, run: RetentionRun, key: str, n: int, digest: str | None, after: Any) -> None:
        if self.rule.action is RetentionAction.anonymise:
            run.anonymised += n
        else:
            run.deleted += n
        if digest is not None:
            run.digest = _digest(run.digest, digest)
            run.batches += 1
        progress = dict(run.progress or {})
        entry = dict(progress.get(key, {}))
        entry["count"] = int(entry.get("count", 0)) + n
        entry["after"] = after
        progress[key] = entry
        run.progress = progress

    def _finish_target(self, key: str) -> None:
        with self.db.session(self.org_id) as session:
            run = self._locked(session)
            progress = dict(run.progress or {})
            progress[key] = {**progress.get(key, {}), "done": True}
            run.progress = progress

    def run(self) -> None:
        with self.db.session(self.org_id) as session:
            run = self._locked(session)
            progress, pending, moment = dict(run.progress or {}), run.pending, run.as_of
            held_subjects, held_categories, held_systems = holds.held_sets(session)
        found = rules.reach(self.policy, self.rule, held_categories, held_systems)
        for target in found.targets:
            if progress.get(target.key, {}).get("done"):
                continue
            if isinstance(target, TableTarget):
                self._table(target, moment, held_subjects, pending)
            elif target.kind == "subjects":
                self._subjects(target, moment, held_subjects)
            else:
                self._consent(target, moment, held_subjects)
            self._finish_target(target.key)

    # --- a business table
    def _table(
        self,
        target: TableTarget,
        as_of: datetime,
        held_subjects: set[str],
        pending: dict[str, Any] | None,
    ) -> None:
        with self.db.session(self.org_id) as session:
            system = sql_connector.system_of(session, target.system_id)
            engine, mapped_all = sql_connector.connect(session, system)
            held_values = held_values_for(session, held_subjects, mapped_all, target)
        mapped = next(m for m in mapped_all if m.spec.name == target.spec.name)
        moment = rules.cutoff(self.rule, as_of)
        due = _due(target, mapped, moment, held_values)
        single = len(mapped.key) == 1
        if pending is not None and pending.get("target") == target.key:
            with engine.begin() as conn:
                redone = _apply(conn, target, mapped, due, pending)
            # Nothing left to do means the killed process had committed the whole batch.
            self._close_batch(target.key, redone or pending["count"], pending)
        with self.db.session(self.org_id) as session:
            after = (self._locked(session).progress or {}).get(target.key, {}).get("after")
        with engine.connect() as conn:
            keys = _next_keys(conn, mapped, due, after, self.batch)
        if not keys:
            return
        batch: dict[str, Any] | None = _batch(target.key, keys, single)
        with self.db.session(self.org_id) as session:
            self._locked(session).pending = batch
        while batch is not None:
            with engine.begin() as conn:
                changed = _apply(conn, target, mapped, due, batch)
            with engine.connect() as conn:
                keys = _next_keys(conn, mapped, due, keys[-1], self.batch)
            following = _batch(target.key, keys, single) if keys else None
            # One commit records the batch just applied and announces the next one.
            self._close_batch(target.key, changed, batch, following)
            batch = following
            self._tick()

    def _close_batch(
        self,
        key: str,
        n: int,
        batch: dict[str, Any],
        following: dict[str, Any] | None = None,
    ) -> None:
        with self.db.session(self.org_id) as session:
            run = self._locked(session)
            last = batch["last"] if "last" in batch else batch["keys"][-1]
            self._record(run, key, n, batch["digest"], last)
            run.pending = following

    # --- privasi's subject records
    def _subjects(self, target: PrivasiTarget, as_of: datetime, held: set[str]) -> None:
        key = target.key
        while True:
            with self.db.session(self.org_id) as session:
                after = (self._locked(session).progress or {}).get(key, {}).get("after") or ""
                expired, last = expired_subjects(
                    session, self.policy, self.rule, as_of, held, after, self.batch
                )
            if last is None:
                return
            with self.db.session(self.org_id) as session:
                run = self._locked(session)
                vault = vault_for(session)
                for subject_id in expired:
                    vault.shred(self.org_id, subject_id, session=session)
                gone = session.execute(delete(Subject).where(Subject.id.in_(expired)))
                n = int(gone.rowcount or 0) if expired else 0  # type: ignore[attr-defined]
                digest = batch_digest(sorted(expired)) if expired else None
                self._record(run, key, n, digest, last)
                run.shredded += n
            self._tick()

    # --- privasi's consent records
    def _consent(self, target: PrivasiTarget, as_of: datetime, held: set[str]) -> None:
        bound = rules.cutoff(self.rule, as_of)
        for purpose in target.purposes:
            key = f"{target.key}:{purpose}"
            while True:
                with self.db.session(self.org_id) as session:
                    run = self._locked(session)
                    after = (run.progress or {}).get(key, {}).get("after") or ""
                    ids = _withdrawn(session, purpose, bound, held, after, self.batch)
                    if not ids:
                        break
                    where = (ConsentState.purpose == purpose, ConsentState.subject_id.in_(ids))
                    session.execute(
                        delete(ConsentEvent).where(
                            ConsentEvent.purpose == purpose, ConsentEvent.subject_id.in_(ids)
                        )
                    )
                    gone = session.execute(delete(ConsentState).where(*where))
                    n = int(gone.rowcount or 0)  # type: ignore[attr-defined]
                    digest = batch_digest([f"{i}:{purpose}" for i in ids])
                    self._record(run, key, n, digest, ids[-1])
                self._tick()


def held_values_for(
    session: PrivasiSession, held_subjects: set[str], mapped_all: list[Mapped], target: TableTarget
) -> list[str]:
    """The identifiers of held subjects as this table stores them, to leave their rows alone."""
    if not held_subjects:
        return []
    mapped = next(m for m in mapped_all if m.spec.name == target.spec.name)
    values: list[str] = []
    for subject_id in sorted(held_subjects):
        subject = session.get(Subject, subject_id)
        if subject is None:
            continue
        values.extend(tables.match_values(mapped.kind(), subjects.identifiers(session, subject)))
    return list(dict.fromkeys(values))
