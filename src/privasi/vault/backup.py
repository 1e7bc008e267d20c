"""Key-store backups that expire: erasure reaches backups only if old key-store copies are gone.

``backup`` writes a consistent copy of a SQLite key store into a directory and deletes the copies
there older than ``PRIVASI_KEYSTORE_BACKUP_DAYS``. A key store on PostgreSQL is backed up with the
database's own tools, under the same retention.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from privasi.vault.errors import VaultError

NAME_FORMAT = "keys-%Y%m%dT%H%M%SZ.sqlite"
NAME_RE = re.compile(r"^keys-(\d{8}T\d{6}Z)\.sqlite$")


@dataclass(frozen=True)
class BackupResult:
    written: Path
    removed: list[Path]


def _sqlite_path(url: str) -> Path:
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    raise VaultError(
        "the key store is not a SQLite file: back it up with its database's own tools, and keep "
        "those backups no longer than PRIVASI_KEYSTORE_BACKUP_DAYS"
    )


def backup(
    keys_url: str, directory: Path, keep_days: int, now: datetime | None = None
) -> BackupResult:
    now = now or datetime.now(UTC)
    source = _sqlite_path(keys_url)
    if not source.exists():
        raise VaultError("the key store file does not exist yet")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / now.strftime(NAME_FORMAT)
    # Owner-only from the first byte: the copy holds every subject's key.
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise VaultError(f"{target.name} already exists; try again in a second") from None
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return BackupResult(target, prune(directory, keep_days, now))


def prune(directory: Path, keep_days: int, now: datetime | None = None) -> list[Path]:
    """Delete this directory's key-store backups older than ``keep_days``; other files stay."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for path in sorted(directory.iterdir()):
        match = NAME_RE.match(path.name)
        if match is None:
            continue
        made = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if made < cutoff:
            path.unlink()
            removed.append(path)
    return removed
