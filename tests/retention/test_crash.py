"""SIGKILL in the middle of a sweep (a real separate process), then a re-run: every due row is
deleted or anonymised exactly once and whole, and counted once in the run's evidence."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from privasi.config import Settings
from privasi.db import utcnow
from privasi.errors import Conflict
from privasi.retention import service as retention
from privasi.retention.models import RetentionRun

from .conftest import T0, naive

SCRIPT = Path(__file__).parent / "data" / "sweep_and_die.py"
DUE, FRESH = 23, 7


def _kill_midway(
    settings: Settings,
    tmp_path: Path,
    org_id: str,
    rule: str,
    point: str,
    *,
    batch: int = 4,
    at_call: int = 3,
) -> None:
    config = {
        "settings": {
            "env": settings.env,
            "data_dir": str(settings.data_dir),
            "database_url": settings.db_url,
            "keystore_url": settings.keystore_url,
            "master_key": settings.master_key,
            "secret_key": settings.secret_key,
            "worker_in_process": False,
        },
        "org_id": org_id,
        "rule": rule,
        "now": T0.isoformat(),
        "batch": batch,
        "at_call": at_call,
        "point": point,
    }
    path = tmp_path / f"kill-{point}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def _seed(biz: Any, system: str, table: str, stamp: str, columns: list[str]) -> None:
    old, fresh = naive(T0 - timedelta(days=365 * 11)), naive(T0 - timedelta(days=30))
    rows = []
    for i in range(1, DUE + FRESH + 1):
        row = {c: f"nilai-{c}-{i}" for c in columns}
        row.update({"id": i, stamp: old if i <= DUE else fresh})
        rows.append(row)
    biz.insert(system, table, rows)


def _take_over_after_lease(db: Any, org_id: str) -> None:
    """The dead process's lease runs out (two minutes in real life)."""
    with db.session(org_id) as s:
        for run in s.query(RetentionRun).filter(RetentionRun.status == "running"):
            run.lease_until = utcnow() - timedelta(seconds=1)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_commit", "mid_batch"])
def test_sigkill_mid_anonymisation_then_rerun(
    db: Any, settings: Settings, business: Any, tmp_path: Path, point: str
) -> None:
    biz = business("crm")
    _seed(biz, "crm_app", "accounts", "closed_at", ["name", "email", "phone"])
    _kill_midway(settings, tmp_path, biz.org_id, "account", point)

    # Each row is either untouched or whole: never some columns anonymised and others not.
    after_crash = {r["id"]: r for r in biz.rows("crm_app", "accounts")}
    for i, row in after_crash.items():
        done = str(row["email"]).startswith("anon-")
        assert done == str(row["name"]).startswith("anon-") == (row["phone"] is None), row
        if i > DUE:
            assert not done
    done_before = {
        i: r["email"] for i, r in after_crash.items() if str(r["email"]).startswith("anon-")
    }
    assert 0 < len(done_before) < DUE

    with pytest.raises(Conflict):  # the dead process's lease still stands
        retention.run_rule(db, biz.org_id, "account", now=T0, owner="next-process")
    _take_over_after_lease(db, biz.org_id)
    run = retention.run_rule(db, biz.org_id, "account", now=T0 + timedelta(days=3), owner="next")

    assert run.as_of == T0  # the resumed run keeps its own moment
    assert (run.anonymised, run.deleted, run.status) == (DUE, 0, "done")
    rows = {r["id"]: r for r in biz.rows("crm_app", "accounts")}
    for i, row in rows.items():
        if i <= DUE:
            assert str(row["email"]).startswith("anon-") and str(row["name"]).startswith("anon-")
            assert row["phone"] is None
        else:
            assert row["email"] == f"nilai-email-{i}"
    # Rows anonymised before the crash kept their token: nothing was done twice.
    assert all(rows[i]["email"] == token for i, token in done_before.items())
    with db.session(biz.org_id) as s:
        assert retention.runs(s)[0].pending is None


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_commit", "after_announce"])
def test_sigkill_after_a_committed_delete_counts_each_row_once(
    db: Any, settings: Settings, business: Any, tmp_path: Path, point: str
) -> None:
    # after_announce: the fourth batch was announced here, its delete not yet committed there.
    biz = business("aspire")
    _seed(biz, "core", "cards", "closed_at", ["user_email", "card_last4"])
    _kill_midway(settings, tmp_path, biz.org_id, "user_data", point)
    left = [r["id"] for r in biz.rows("core", "cards")]
    # Three batches of four were committed there; the third was never recorded here.
    assert len(left) == DUE + FRESH - 12
    _take_over_after_lease(db, biz.org_id)
    run = retention.run_rule(db, biz.org_id, "user_data", now=T0, owner="next")
    assert run.deleted == DUE
    assert [r["id"] for r in biz.rows("core", "cards")] == list(range(DUE + 1, DUE + FRESH + 1))
    assert [v["count"] for k, v in run.progress.items() if k.endswith("cards")] == [DUE]
