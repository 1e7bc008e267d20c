"""Sweeps: one rule enforced at one moment, in bounded batches, resumable after any crash.

A run keeps the moment it enforces (``as_of``), so a run resumed later removes exactly what had
run out when it started. Each target is walked in primary-key order (never re-reading what is
done) in bounded batches:

- in a business database, a batch is announced to the run as ``pending`` (its key range, count
  and digest) before the business's commit; one statement deletes or anonymises its rows
  (re-checking that they are still due and not done, so a replay changes nothing twice) in one
  transaction there; the run records the batch at its next commit. A process killed anywhere
  leaves at most one pending batch, which the next process applies again before going on: every
  row is done once, whole, and counted once. Integer-keyed tables go by windows: of the heap's
  blocks on PostgreSQL 14 and later (``_blocks``, see ``blocks``: one sequential pass, a batch
  settled after a crash by its transaction's status rather than replayed), of the key otherwise
  (``_windows``); the keys are counted and digested as the rows change, and the batch is
  announced inside the business's open transaction. Other tables read each batch's keys first
  (the keyed walk);
- in privasi's own store, the batch and its bookkeeping share one transaction; the shred of a
  subject's key comes first and is idempotent, so a crash between the two only shreds again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, select

from privasi.connectors import sql as sql_connector
from privasi.connectors import tables
from privasi.connectors.tables import Mapped
from privasi.consent.models import ConsentEvent, ConsentState
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Conflict
from privasi.policy.schema import Policy, RetentionRule
from privasi.policy.vocab import RetentionAction
from privasi.retention import blocks, holds, own, rules
from privasi.retention.models import RetentionRun
from privasi.retention.rules import PrivasiTarget, TableTarget
from privasi.retention.statements import (
    _apply,
    _apply_blocks,
    _apply_window,
    _apply_window_returning,
    _batch,
    _due,
    _first_due,
    _next_keys,
    batch_digest,
    windowed,
)
from privasi.retention.statements import (
    _window as _key_window,
)
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject
from privasi.vault.service import vault_for

BATCH_ROWS = 10_000
# A business table's batch is one range statement, cheap per row next to the sync of its commit,
# so it takes more rows (still one bounded transaction).
TABLE_BATCH_ROWS = 100_000
# A window spans at most this many batches' worth of keys (so it never changes more rows), and
# is given up for the keyed walk when it finds fewer than 1/SPARSE of a batch at that width.
WINDOW_CAP = 8
SPARSE = 8
# The first window's width comes from a stretch this many times narrower (batches >= PROBE_MIN).
PROBE_SHARE = 100
PROBE_MIN = 1_000
_DONE = object()


class _Moved(Exception):
    """A window's rows changed between listing them and changing them."""


LEASE = timedelta(minutes=2)
Beat = Callable[[], object]


def _digest(previous: str, batch: str) -> str:
    """The run's digest: each batch's digest chained onto the previous value."""
    return hashlib.sha256((previous + batch).encode()).hexdigest()


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
        self.table_batch = batch_rows or TABLE_BATCH_ROWS

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

    def _record(
        self,
        run: RetentionRun,
        key: str,
        n: int,
        digest: str | None,
        after: Any,
        heap: dict[str, Any] | None = None,
    ) -> None:
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
        entry.update(heap or {})
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
        if pending is not None and pending.get("target") == target.key and "xid" in pending:
            # A window of blocks is not replayed (its rows may have moved since): its
            # transaction tells whether it happened; if not, the walk does its rows again.
            if self._settled(engine, mapped, due, pending):
                self._close_batch(target.key, pending["count"], pending)
            else:
                self._announce(None)
        elif pending is not None and pending.get("target") == target.key:
            with engine.begin() as conn:
                redone = _apply(conn, target, mapped, due, pending)
            # Nothing left to do means the killed process had committed the whole batch.
            self._close_batch(target.key, redone or pending["count"], pending)
        with self.db.session(self.org_id) as session:
            entry = (self._locked(session).progress or {}).get(target.key, {})
        with engine.connect() as conn:
            heap = blocks.shape(conn, mapped, self.table_batch)
        if heap is not None:
            self._blocks(engine, target, mapped, due, heap, entry)
            return
        # Progress in blocks means nothing in keys: start the walk of keys from the first.
        after = None if "file" in entry else entry.get("after")
        if windowed(engine.dialect.name, mapped):
            after = self._windows(engine, target, mapped, due, after)
            if after is _DONE:
                return
        with engine.connect() as conn:
            keys = _next_keys(conn, mapped, due, after, self.table_batch)
        if not keys:
            return
        batch: dict[str, Any] | None = _batch(target.key, keys, single)
        with self.db.session(self.org_id) as session:
            self._locked(session).pending = batch
        while batch is not None:
            with engine.begin() as conn:
                changed = _apply(conn, target, mapped, due, batch)
            with engine.connect() as conn:
                keys = _next_keys(conn, mapped, due, keys[-1], self.table_batch)
            following = _batch(target.key, keys, single) if keys else None
            # One commit records the batch just applied and announces the next one.
            self._close_batch(target.key, changed, batch, following)
            batch = following
            self._tick()

    def _windows(
        self,
        engine: sa.Engine,
        target: TableTarget,
        mapped: Mapped,
        due: sa.ColumnElement[bool],
        after: Any,
    ) -> Any:
        """Sweep an integer-keyed table in windows of its key (``above < key <= last``): per
        batch, the window's due keys are counted and digested in SQL and one statement changes
        them; then, with that transaction still open, one commit here records the batch before
        and announces this one (its window, count and digest); then the business's commit. A process killed before
        that commit leaves the announced batch to be applied again; one killed after it, a batch
        whose replay finds nothing left and counts what was announced. The window's width follows
        the density of due rows so a batch changes about ``table_batch`` rows, and never spans more
        than ``WINDOW_CAP`` times that many keys. Returns ``_DONE``, or the key where the keyed walk
        takes over: where due rows are too sparse among the keys for windows to pay."""
        width, cap = self.table_batch, self.table_batch * WINDOW_CAP
        above: int | None = after
        previous: dict[str, Any] | None = None
        start, probed = True, False
        while True:
            if start:
                with engine.connect() as conn:
                    first = _first_due(conn, mapped, due, above)
                if first is None:
                    break
                above, start = first - 1, False
            assert above is not None
            if not probed:
                span = width // PROBE_SHARE
                width = self._probe(
                    engine, mapped, due, _key_window(mapped, above, above + span), span
                )
                probed = True
            last = above + width
            try:
                with engine.begin() as conn:
                    batch = self._window(conn, target, mapped, due, above, last, previous)
            except _Moved:
                with engine.begin() as conn:
                    batch = self._window(
                        conn, target, mapped, due, above, last, previous, exact=True
                    )
            n = batch["count"] if batch is not None else 0
            previous = batch or previous
            above = last
            if not n:
                start = True  # skip to the next due row rather than walking empty windows
            else:
                self._tick()
                if width >= cap and n * SPARSE < self.table_batch:
                    break
            width = max(1, min(width * 2, cap, width * self.table_batch // max(n, 1)))
        if previous is not None:
            self._close_batch(target.key, previous["count"], previous)
        return _DONE if start else above

    def _window(
        self,
        conn: sa.Connection,
        target: TableTarget,
        mapped: Mapped,
        due: sa.ColumnElement[bool],
        above: int,
        last: int,
        previous: dict[str, Any] | None,
        *,
        exact: bool = False,
    ) -> dict[str, Any] | None:
        """One window changed in the business's open transaction, then, before its commit, the
        batch before it recorded here and this one announced, in one commit."""
        if exact:
            found: tuple[int, str] | None = _apply_window_returning(
                conn, target, mapped, due, above, last
            )
        else:
            found = _apply_window(conn, target, mapped, due, above, last)
        if found is None:
            raise _Moved
        n, digest = found
        if not n:
            return None
        batch = {"target": target.key, "count": n, "digest": digest, "above": above, "last": last}
        if previous is None:
            self._announce(batch)
        else:
            self._close_batch(target.key, previous["count"], previous, batch)
        return batch

    def _probe(
        self,
        engine: sa.Engine,
        mapped: Mapped,
        due: sa.ColumnElement[bool],
        stretch: sa.ColumnElement[bool],
        span: int,
        width: int | None = None,
        cap: int | None = None,
    ) -> int:
        """The first window's width from the due rows over a stretch of ``span`` keys or blocks
        (assuming every row due, then widening, took two more windows and commits at 30%)."""
        width = width or self.table_batch
        cap = cap or self.table_batch * WINDOW_CAP
        if self.table_batch < PROBE_MIN or span < 1:
            return width
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(mapped.table).where(stretch, due)
            n = int(conn.scalar(query) or 0)
        return max(1, min(cap, span * self.table_batch // n)) if n else width

    def _settled(
        self, engine: sa.Engine, mapped: Mapped, due: sa.ColumnElement[bool], batch: dict[str, Any]
    ) -> bool:
        """Whether a batch of blocks announced by a killed process was committed there. When the
        server no longer knows its transaction, the window is listed again: its rows still all
        there, with the announced digest, mean it was not."""
        done = blocks.settled(engine, int(batch["xid"]))
        if done is not None:
            return done
        where = sa.and_(blocks.window(batch["first"], batch["last"]), due)
        with engine.connect() as conn:
            count, digest, _ = blocks.listing(conn, mapped.table, where, mapped.key[0])
        return (count, digest) != (batch["count"], batch["digest"])

    def _blocks(
        self,
        engine: sa.Engine,
        target: TableTarget,
        mapped: Mapped,
        due: sa.ColumnElement[bool],
        heap: blocks.Shape,
        entry: dict[str, Any],
    ) -> None:
        """Sweep a PostgreSQL table in windows of its heap's blocks (``blocks``): per window, the
        due rows change and their count, digest and transaction id come back; with
        that transaction still open, one commit here records the window before and announces
        this one; then the business's commit. The width follows the density of due rows so a
        window changes about ``table_batch`` rows, and never holds more than ``WINDOW_CAP``
        times that many rows (by the table's rows per block). A resumed run goes on after the
        last recorded window while the table is in the same file, and from its first block
        otherwise."""
        same = entry.get("file") == heap.file
        lo = int(entry.get("after") or 0) if same else 0
        end = int(entry.get("end", heap.blocks)) if same else heap.blocks
        width = max(1, int(self.table_batch / heap.rows_per_block))
        cap = max(width, int(self.table_batch * WINDOW_CAP / heap.rows_per_block))
        span = max(1, width // PROBE_SHARE)
        width = self._probe(engine, mapped, due, blocks.window(lo, lo + span), span, width, cap)
        previous: dict[str, Any] | None = None
        while lo < end:
            hi = min(end, lo + width)
            batch = {"target": target.key, "first": lo, "last": hi, "file": heap.file, "end": end}
            try:
                n = self._block_window(engine, target, mapped, due, batch, previous)
            except blocks.Moved:
                n = self._block_window(engine, target, mapped, due, batch, previous, exact=True)
            previous = batch if n else previous
            lo = hi
            width = max(1, min(width * 2, cap, width * self.table_batch // max(n, 1)))
        if previous is not None:
            self._close_batch(target.key, previous["count"], previous)

    def _block_window(
        self,
        engine: sa.Engine,
        target: TableTarget,
        mapped: Mapped,
        due: sa.ColumnElement[bool],
        batch: dict[str, Any],
        previous: dict[str, Any] | None,
        *,
        exact: bool = False,
    ) -> int:
        """One window of blocks changed in the business's open transaction, then, before its
        commit, the window before it recorded here and this one announced, in one commit."""
        with engine.begin() as conn:
            found = _apply_blocks(
                conn, target, mapped, due, batch["first"], batch["last"], exact=exact
            )
            n, batch["digest"], batch["xid"] = found
            batch["count"] = n
            if not n:
                return 0
            if previous is None:
                self._announce(batch)
            else:
                self._close_batch(target.key, previous["count"], previous, batch)
        self._tick()
        return n

    def _announce(self, batch: dict[str, Any] | None) -> None:
        with self.db.session(self.org_id) as session:
            self._locked(session).pending = batch

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
            heap: dict[str, Any] = {k: batch[k] for k in ("file", "end") if k in batch}
            self._record(run, key, n, batch["digest"], last, heap)
            run.pending = following

    # --- privasi's subject records
    def _subjects(self, target: PrivasiTarget, as_of: datetime, held: set[str]) -> None:
        key = target.key
        while True:
            with self.db.session(self.org_id) as session:
                after = (self._locked(session).progress or {}).get(key, {}).get("after") or ""
                expired, last = own.expired_subjects(
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
                    ids = own.withdrawn(session, purpose, bound, held, after, self.batch)
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
