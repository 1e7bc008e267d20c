"""Integer-keyed business tables are swept in windows of their key: the evidence digest is the
same as over the keys themselves, gaps and sparse keys are walked correctly, and a window whose
rows change between listing and changing them is redone exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from privasi.retention import service as retention
from privasi.retention import statements, sweep

from .conftest import T0, naive

OLD, FRESH = naive(T0 - timedelta(days=365 * 11)), naive(T0 - timedelta(days=30))


def _cards(biz: Any, ids: list[int], due: set[int]) -> None:
    rows = [
        {"id": i, "user_email": f"kartu{i}@contoh.example", "closed_at": OLD if i in due else FRESH}
        for i in ids
    ]
    biz.insert("core", "cards", rows)


def _chain(batches: list[list[int]]) -> str:
    digest = ""
    for keys in batches:
        digest = sweep._digest(digest, statements.batch_digest(keys))
    return digest


def test_window_digest_is_the_digest_of_the_deleted_keys(db: Any, business: Any) -> None:
    biz = business("aspire")
    _cards(biz, list(range(1, 31)), set(range(1, 24)))
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=4)
    assert (run.deleted, run.status) == (23, "done")
    # Dense keys, all due up to 23: windows of four keys are batches of four rows.
    expected = [list(range(i, min(i + 4, 24))) for i in range(1, 24, 4)]
    assert run.digest == _chain(expected)
    assert run.batches == len(expected)
    assert [r["id"] for r in biz.rows("core", "cards")] == list(range(24, 31))


def test_the_keyed_walk_gives_the_same_evidence(
    db: Any, business: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "windowed", lambda dialect, mapped: False)
    biz = business("aspire")
    _cards(biz, list(range(1, 31)), set(range(1, 24)))
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=4)
    assert run.deleted == 23
    assert run.digest == _chain([list(range(i, min(i + 4, 24))) for i in range(1, 24, 4)])


def test_gaps_and_fresh_stretches_are_skipped_and_every_due_row_is_counted_once(
    db: Any, business: Any
) -> None:
    biz = business("aspire")
    ids = [*range(1, 11), *range(5_000, 5_020), *range(90_000, 90_005)]
    due = {*range(1, 6), *range(5_010, 5_020), 90_004}
    _cards(biz, ids, due)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=4)
    assert run.deleted == len(due) == 16
    assert [r["id"] for r in biz.rows("core", "cards")] == [i for i in ids if i not in due]
    # Each batch's digest chains over its keys in key order: the same keys, the same chain.
    # Windows widen over the fresh stretch, so the third holds ten rows (bounded by the cap).
    assert run.batches == 4
    assert run.digest == _chain([[1, 2, 3, 4], [5], list(range(5_010, 5_020)), [90_004]])


def test_sparse_keys_hand_over_to_the_keyed_walk(db: Any, business: Any) -> None:
    biz = business("aspire")
    ids = [i * 1_000 for i in range(1, 61)]
    _cards(biz, ids, set(ids[:50]))
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=16)
    assert run.deleted == 50
    assert [r["id"] for r in biz.rows("core", "cards")] == ids[50:]
    # One row per window would mean fifty batches; the keyed walk takes sixteen at a time.
    assert run.batches < 12


def test_a_window_changed_under_the_sweep_is_redone_exactly(
    db: Any, business: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    biz = business("aspire")
    _cards(biz, list(range(1, 31)), set(range(1, 24)))
    real = sweep._apply_window
    calls = {"n": 0}

    def moved(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            real(*args, **kwargs)  # the rows are changed, then the caller must roll back
            return None
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "_apply_window", moved)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=4)
    assert run.deleted == 23
    assert run.digest == _chain([list(range(i, min(i + 4, 24))) for i in range(1, 24, 4)])
    assert [r["id"] for r in biz.rows("core", "cards")] == list(range(24, 31))


def test_the_first_window_is_sized_from_a_probe_of_the_due_rows(db: Any, business: Any) -> None:
    biz = business("aspire")
    ids = list(range(1, 10_001))
    due = {i for i in ids if i % 10 < 3}
    _cards(biz, ids, due)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="t", batch_rows=1_000)
    assert run.deleted == len(due) == 3_000
    assert [r["id"] for r in biz.rows("core", "cards")] == [i for i in ids if i not in due]
    # About a batch's worth of due rows from the first window on: three batches and the rest.
    # A first window assuming every row due (300 of them), then widening, takes five.
    assert run.batches <= 4, run.batches
