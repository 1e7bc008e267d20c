"""Runs a request's tasks (or, given ``requests``, a worker's batch of requests through
``execution.run_many``) in a separate process that SIGKILLs itself at a chosen point of the sql
connector: ``after_commit`` (a batch applied and committed in the business's database, privasi
not yet told) or ``mid_batch`` (inside a batch's transaction). Used by test_resume.py."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from privasi.config import Settings
from privasi.connectors import sql, tables
from privasi.db import Database
from privasi.rights import execution
from privasi.vault.service import Vault

config = json.loads(Path(sys.argv[1]).read_text())
settings = Settings(_env_file=None, **config["settings"])
db = Database(settings.db_url)
vault = Vault.from_settings(settings, db)
sql.BATCH_ROWS = config["batch"]
calls = {"n": 0}


def _die_on(name: str) -> None:
    calls["n"] += 1
    if calls["n"] == config["at_call"]:
        os.kill(os.getpid(), signal.SIGKILL)


real_next_keys = tables.next_keys
real_erase = tables.erase


def next_keys(conn: Any, mapped: Any, *args: Any, **kwargs: Any) -> Any:
    if config["point"] == "after_commit" and mapped.name.endswith(config["table"]):
        _die_on(mapped.name)
    return real_next_keys(conn, mapped, *args, **kwargs)


def erase(conn: Any, mapped: Any, *args: Any, **kwargs: Any) -> Any:
    changed = real_erase(conn, mapped, *args, **kwargs)
    if config["point"] == "mid_batch" and mapped.name.endswith(config["table"]):
        _die_on(mapped.name)  # the batch's statements ran; its transaction is still open
    return changed


tables.next_keys = next_keys
tables.erase = erase
if config.get("requests"):
    execution.run_many(db, config["requests"])
else:
    execution.run_tasks(db, config["request_id"])
print("finished without being killed")
