"""Master key rotation: rewrap every key in the key store; the main database is not touched."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from privasi.db import utcnow
from privasi.vault import master as master_keys
from privasi.vault.errors import VaultError
from privasi.vault.keystore import WrappedKey

if TYPE_CHECKING:
    from privasi.vault.core import Vault

BATCH = 500


@dataclass(frozen=True)
class RotationResult:
    old_key_id: str
    new_key_id: str
    rewrapped: int


def rewrap(vault: Vault, new_master: bytes) -> RotationResult:
    """One key-store transaction: a failure leaves every key under the old master key."""
    old_id, new_id = vault.master_key_id, master_keys.key_id(new_master)
    if old_id == new_id:
        raise VaultError("the new master key is the same as the current one")
    count = 0
    with vault.keystore.session() as ks:
        meta = vault.keystore.meta(ks)
        if meta.master_key_id != old_id:
            raise master_keys.mismatch(meta.master_key_id, old_id)
        last = ""
        while True:
            rows = list(
                ks.scalars(
                    select(WrappedKey)
                    .where(WrappedKey.key_id > last)
                    .order_by(WrappedKey.key_id)
                    .limit(BATCH)
                )
            )
            if not rows:
                break
            for row in rows:
                raw = vault._unwrap(vault._master, row)
                row.wrapped = vault._wrap(new_master, row.key_id, row.org_id, row.name, raw)
                row.master_key_id = new_id
                count += 1
            ks.flush()
            last = rows[-1].key_id
        meta.master_key_id = new_id
        meta.rotated_at = utcnow()
    vault._master = new_master
    return RotationResult(old_id, new_id, count)


def rotate(vault: Vault, new_master: bytes | None) -> RotationResult:
    new_master = new_master or master_keys.generate()
    settings = vault._settings
    if settings is None or master_keys.from_environment(settings):
        return rewrap(vault, new_master)
    current = master_keys.key_file(settings)
    pending = current.with_name(current.name + master_keys.NEXT_SUFFIX)
    with master_keys.rotation_lock(settings):
        # Holding the lock, a leftover next key can only be from an interrupted rotation.
        leftover = master_keys.pending_next_key(settings)
        if leftover is not None:
            with vault.keystore.session() as ks:
                store_id = vault.keystore.meta(ks).master_key_id
            if master_keys.key_id(leftover) == store_id:
                # The store already uses that key: it must be installed, never deleted.
                raise VaultError(
                    "an interrupted rotation left the key the store now uses in "
                    "master.key.next; start privasi once to install it, then rotate again"
                )
        pending.unlink(missing_ok=True)
        # The new key reaches the disk before any key is wrapped under it.
        master_keys.write_private(pending, new_master)
        try:
            result = rewrap(vault, new_master)
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
        os.replace(pending, current)
    return result
