"""PostgreSQL tables swept in windows of their heap's blocks: the evidence is the digest of the
keys each window changed; a SIGKILL at any point, then a re-run, does every due row once, whole,
and counts it once, also when the table was rewritten (its rows moved) in between; the batch a
killed process left is settled by its transaction's status."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from privasi.config import Settings
from privasi.errors import Conflict
from privasi.retention import blocks, statements, sweep
from privasi.retention import service as retention

from .conftest import BACKEND, T0, naive
from .test_crash import _kill_midway, _take_over_after_lease

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="block windows are PostgreSQL's")

ROWS = 1_200
BATCH = 300  # at least a block's rows, so the sweep takes block windows
OLD, FRESH = naive(T0 - timedelta(days=365 * 11)), naive(T0 - timedelta(days=30))


def _is_due(i: int) -> bool:
    return i % 10 < 7


def _seed(biz: Any, system: str, table: str, stamp: str, columns: list[str]) -> None:
    # Wide values: about thirty rows a block, so the table spans dozens of blocks.
    rows = []
    for i in range(1, ROWS + 1):
        row: dict[str, Any] = {c: f"{c}-{i}-".ljust(180, "x") for c in columns}
        row.update({"id": i, stamp: OLD if _is_due(i) else FRESH})
        rows.append(row)
    biz.insert(system, table, rows)


def _engine(biz: Any, system: str) -> sa.Engine:
    return sa.create_engine(biz.urls[system])


def _blocks_of(biz: Any, system: str, table: str) -> dict[int, int]:
    """Each row's block, read from its ctid."""
    t = biz.table(system, table)
    engine = _engine(biz, system)
    with engine.connect() as conn:
        block = sa.text("(ctid::text::point)[0]::bigint")
        rows = conn.execute(sa.select(t.c.id, block).select_from(t)).all()
    engine.dispose()
    return {int(i): int(b) for i, b in rows}


def _windows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    seen: list[tuple[int, int, int]] = []
    real = sweep._apply_blocks

    def watched(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        lo, hi = args[4], args[5]
        seen.append((lo, hi, found[0]))
        return found

    monkeypatch.setattr(sweep, "_apply_blocks", watched)
    return seen


def test_each_block_windows_digest_is_the_digest_of_its_deleted_keys(
    db: Any, business: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    where = _blocks_of(biz, "core", "cards")
    assert max(where.values()) > 20  # many blocks: many windows
    seen = _windows(monkeypatch)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=BATCH)

    due = [i for i in range(1, ROWS + 1) if _is_due(i)]
    assert (run.deleted, run.status) == (len(due), "done")
    left = [r["id"] for r in biz.rows("core", "cards")]
    assert left == [i for i in range(1, ROWS + 1) if not _is_due(i)]
    # The windows cover the table once, in order, and each batch's digest is its keys'.
    assert seen[0][0] == 0 and all(a[1] == b[0] for a, b in pairwise(seen))
    assert seen[-1][1] == max(where.values()) + 1
    digest, batches = "", 0
    for lo, hi, n in seen:
        keys = sorted(i for i in due if lo <= where[i] < hi)
        assert n == len(keys)
        if keys:
            digest, batches = sweep._digest(digest, statements.batch_digest(keys)), batches + 1
    assert (run.digest, run.batches) == (digest, batches)
    assert batches >= 4 and all(n <= BATCH * sweep.WINDOW_CAP for _, _, n in seen)


def test_a_block_window_anonymises_each_due_row_once(db: Any, business: Any) -> None:
    biz = business("crm")
    _seed(biz, "crm_app", "accounts", "closed_at", ["name", "email", "phone"])
    run = retention.run_rule(db, biz.org_id, "account", now=T0, owner="t", batch_rows=BATCH)
    assert run.anonymised == sum(1 for i in range(1, ROWS + 1) if _is_due(i))
    for row in biz.rows("crm_app", "accounts"):
        assert str(row["email"]).startswith("anon-") == _is_due(row["id"])
    # Done rows are no longer pending: a second run finds nothing.
    again = retention.run_rule(db, biz.org_id, "account", now=T0, owner="t", batch_rows=BATCH)
    assert (again.anonymised, again.batches) == (0, 0)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_commit", "mid_batch", "after_announce"])
def test_sigkill_in_a_block_window_then_rerun_deletes_and_counts_each_row_once(
    db: Any,
    settings: Settings,
    business: Any,
    tmp_path: Path,
    point: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    _kill_midway(settings, tmp_path, biz.org_id, "user_data", point, batch=BATCH)
    due = {i for i in range(1, ROWS + 1) if _is_due(i)}
    gone_before = due - {r["id"] for r in biz.rows("core", "cards")}
    assert 0 < len(gone_before) < len(due)

    _take_over_after_lease(db, biz.org_id)
    seen = _windows(monkeypatch)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="next", batch_rows=BATCH)
    assert (run.deleted, run.status, run.pending) == (len(due), "done", None)
    assert {r["id"] for r in biz.rows("core", "cards")} == set(range(1, ROWS + 1)) - due
    assert [v["count"] for k, v in run.progress.items() if k.endswith("cards")] == [len(due)]
    # Same file: the resumed run went on after the last recorded window, not from the start.
    assert seen[0][0] > 0


@pytest.mark.slow
def test_sigkill_mid_block_anonymisation_leaves_rows_whole(
    db: Any, settings: Settings, business: Any, tmp_path: Path
) -> None:
    biz = business("crm")
    _seed(biz, "crm_app", "accounts", "closed_at", ["name", "email", "phone"])
    _kill_midway(settings, tmp_path, biz.org_id, "account", "mid_batch", batch=BATCH)
    before = {r["id"]: r for r in biz.rows("crm_app", "accounts")}
    for row in before.values():
        done = str(row["email"]).startswith("anon-")
        assert done == str(row["name"]).startswith("anon-") == (row["phone"] is None)
    tokens = {i: r["email"] for i, r in before.items() if str(r["email"]).startswith("anon-")}
    assert tokens

    _take_over_after_lease(db, biz.org_id)
    run = retention.run_rule(db, biz.org_id, "account", now=T0, owner="next", batch_rows=BATCH)
    assert run.anonymised == sum(1 for i in range(1, ROWS + 1) if _is_due(i))
    after = {r["id"]: r for r in biz.rows("crm_app", "accounts")}
    assert all(after[i]["email"] == token for i, token in tokens.items())  # not done twice


@pytest.mark.slow
def test_a_table_rewritten_between_crash_and_resume_is_walked_again_from_its_first_block(
    db: Any,
    settings: Settings,
    business: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    _kill_midway(settings, tmp_path, biz.org_id, "user_data", "after_commit", batch=BATCH)
    # VACUUM FULL writes the table into a new file: the rows left now sit in other blocks.
    engine = _engine(biz, "core")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM FULL {biz.schemas['core']}.cards"))
    engine.dispose()

    _take_over_after_lease(db, biz.org_id)
    seen = _windows(monkeypatch)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="next", batch_rows=BATCH)
    due = {i for i in range(1, ROWS + 1) if _is_due(i)}
    assert seen[0][0] == 0
    assert run.deleted == len(due)
    assert {r["id"] for r in biz.rows("core", "cards")} == set(range(1, ROWS + 1)) - due


def test_a_batch_is_settled_by_its_transactions_status(
    business: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    engine = _engine(biz, "core")
    monkeypatch.setattr(blocks, "SETTLE_SECONDS", 0.3)
    xid = sa.text("SELECT txid_current()")
    with engine.connect() as conn:
        open_xid = int(conn.execute(xid).scalar_one())
        with pytest.raises(Conflict):  # still open: the run is resumed later
            blocks.settled(engine, open_xid)
        conn.rollback()
    assert blocks.settled(engine, open_xid) is False
    with engine.begin() as conn:
        committed = int(conn.execute(xid).scalar_one())
    assert blocks.settled(engine, committed) is True
    engine.dispose()


def test_a_listed_row_changed_before_the_delete_makes_the_window_redo_exactly(
    db: Any, business: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    cards = biz.table("core", "cards")
    other = _engine(biz, "core")
    real = blocks._result
    calls = {"n": 0}

    def then_someone_writes(row: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the first window's keys are listed; its DELETE has not run
            with other.begin() as conn:
                conn.execute(sa.update(cards).where(cards.c.id == 1).values(card_last4="9999"))
        return real(row)

    monkeypatch.setattr(blocks, "_result", then_someone_writes)
    exact: list[int] = []
    real_apply = blocks.apply
    monkeypatch.setattr(blocks, "apply", lambda *a: exact.append(1) or real_apply(*a))
    seen = _windows(monkeypatch)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=BATCH)
    other.dispose()
    due = {i for i in range(1, ROWS + 1) if _is_due(i)}
    # The first window's DELETE failed; it was redone by the keys its DELETE returned.
    assert exact == [1] and seen[0][0] == 0
    assert run.deleted == len(due) == sum(n for _, _, n in seen)
    assert {r["id"] for r in biz.rows("core", "cards")} == set(range(1, ROWS + 1)) - due


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_commit", "after_announce"])
def test_a_batch_whose_transaction_the_server_forgot_is_settled_by_listing_its_window(
    db: Any,
    settings: Settings,
    business: Any,
    tmp_path: Path,
    point: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    _kill_midway(settings, tmp_path, biz.org_id, "user_data", point, batch=BATCH)
    # As after a very long pause: txid_status no longer knows the batch's transaction.
    monkeypatch.setattr(blocks, "settled", lambda engine, xid: None)
    _take_over_after_lease(db, biz.org_id)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="next", batch_rows=BATCH)
    due = {i for i in range(1, ROWS + 1) if _is_due(i)}
    assert (run.deleted, run.pending) == (len(due), None)
    assert {r["id"] for r in biz.rows("core", "cards")} == set(range(1, ROWS + 1)) - due
