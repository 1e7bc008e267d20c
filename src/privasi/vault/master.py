"""The master key: where it comes from, its public id, and how a rotated key file replaces the old.

The master key is either ``PRIVASI_MASTER_KEY`` (base64 of 32 bytes) or a file ``master.key`` in
the data dir, created with mode 0600 on first use. During a rotation the new key is written to
``master.key.next`` *before* the key store is rewrapped, and moved over ``master.key`` after: a
crash at any point leaves a key that opens the store (see ``finish_pending_rotation``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from privasi.config import Settings
from privasi.vault.errors import MasterKeyMismatch, VaultError

log = logging.getLogger("privasi.vault")
KEY_BYTES = 32
FILE_NAME = "master.key"
NEXT_SUFFIX = ".next"
LOCK_NAME = "master.key.lock"


def key_id(master: bytes) -> str:
    """A public fingerprint of the master key, stored beside everything it wraps."""
    return "mk-" + hmac.new(master, b"privasi master key id", hashlib.sha256).hexdigest()[:16]


def decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VaultError("the master key is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise VaultError(f"the master key must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return raw


def encode(master: bytes) -> str:
    return base64.b64encode(master).decode()


def generate() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_file(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def from_environment(settings: Settings) -> bool:
    return bool(settings.master_key)


def write_private(path: Path, master: bytes) -> None:
    """Write a key file readable by its owner only; refuses to overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(encode(master) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def resolved_master_key(settings: Settings) -> bytes:
    """The configured master key, or the one kept in the data dir (created on first use)."""
    if settings.master_key:
        return decode(settings.master_key)
    path = key_file(settings)
    if not path.exists():
        # Another process may create it first: then use theirs.
        with contextlib.suppress(FileExistsError):
            write_private(path, generate())
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by other users; chmod 600 it", path)
    return decode(path.read_text())


def pending_next_key(settings: Settings) -> bytes | None:
    path = key_file(settings).with_name(FILE_NAME + NEXT_SUFFIX)
    if from_environment(settings) or not path.exists():
        return None
    return decode(path.read_text())


def finish_pending_rotation(settings: Settings, store_master_id: str) -> bytes | None:
    """After a crash mid-rotation: if ``master.key.next`` is what the store now uses, install it."""
    candidate = pending_next_key(settings)
    if candidate is None:
        return None
    next_path = key_file(settings).with_name(FILE_NAME + NEXT_SUFFIX)
    if key_id(candidate) != store_master_id:
        # The store was never rewrapped: the rotation did not happen, drop the unused key.
        next_path.unlink()
        return None
    os.replace(next_path, key_file(settings))
    return candidate


@contextlib.contextmanager
def rotation_lock(settings: Settings) -> Iterator[None]:
    """Held while a rotation runs, and while a starting process inspects ``master.key.next``, so
    no process mistakes a rotation in progress for an abandoned one."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def mismatch(store_id: str, configured_id: str) -> MasterKeyMismatch:
    return MasterKeyMismatch(
        f"the key store is wrapped under master key {store_id} but the configured key is "
        f"{configured_id}; set PRIVASI_MASTER_KEY (or the data dir's master.key) to the key "
        "the store was last rotated to"
    )
