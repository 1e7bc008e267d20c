"""Runs one retention rule in a separate process that SIGKILLs itself at a chosen point:
``after_commit`` (a batch applied and committed in the business's database, the run not yet
told), ``mid_batch`` (the batch's statement ran inside its still-open transaction) or
``after_announce`` (the previous batch recorded and this one announced here, its transaction
still open there). Used by test_crash.py."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from privasi.config import Settings
from privasi.db import Database
from privasi.retention import service, sweep
from privasi.vault.service import Vault

config = json.loads(Path(sys.argv[1]).read_text())
settings = Settings(_env_file=None, **config["settings"])
db = Database(settings.db_url)
vault = Vault.from_settings(settings, db)
sweep.BATCH_ROWS = sweep.TABLE_BATCH_ROWS = config["batch"]
calls = {"n": 0}
real_apply = sweep._apply
real_apply_window = sweep._apply_window
real_apply_blocks = sweep._apply_blocks
real_close = sweep.Runner._close_batch


def _apply(*args: Any, **kwargs: Any) -> int:
    changed = real_apply(*args, **kwargs)
    if config["point"] == "mid_batch":
        calls["n"] += 1
        if calls["n"] == config["at_call"]:
            os.kill(os.getpid(), signal.SIGKILL)  # the statement ran; its transaction is open
    return changed


def _apply_window(*args: Any, **kwargs: Any) -> Any:
    keys = real_apply_window(*args, **kwargs)
    if config["point"] == "mid_batch":
        calls["n"] += 1
        if calls["n"] == config["at_call"]:
            os.kill(os.getpid(), signal.SIGKILL)  # the statement ran; its transaction is open
    return keys


def _apply_blocks(*args: Any, **kwargs: Any) -> Any:
    found = real_apply_blocks(*args, **kwargs)
    if config["point"] == "mid_batch" and found[0]:
        calls["n"] += 1
        if calls["n"] == config["at_call"]:
            os.kill(os.getpid(), signal.SIGKILL)  # the statement ran; its transaction is open
    return found


def _close(self: Any, *args: Any, **kwargs: Any) -> None:
    if config["point"] == "after_commit":
        calls["n"] += 1
        if calls["n"] == config["at_call"]:
            os.kill(os.getpid(), signal.SIGKILL)  # committed there, not yet recorded here
    real_close(self, *args, **kwargs)
    if config["point"] == "after_announce":
        calls["n"] += 1
        if calls["n"] == config["at_call"]:
            os.kill(os.getpid(), signal.SIGKILL)  # the next batch announced, not committed there


sweep._apply = _apply
sweep._apply_window = _apply_window
sweep._apply_blocks = _apply_blocks
sweep.Runner._close_batch = _close  # type: ignore[method-assign]
service.run_rule(
    db,
    config["org_id"],
    config["rule"],
    now=datetime.fromisoformat(config["now"]),
    owner="doomed-process",
)
print("finished without being killed")
