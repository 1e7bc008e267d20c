"""Crypto-shredding: destroying keys, the shred journal, and reapplying it after a restore.

The journal lives in the key store; a copy of each subject's entry is kept in the main database
(``vault_shreds``), so whichever of the two is restored from an older backup, the other one
corrects it (``reapply_shreds``). A whole organisation is shredded with the entry ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from privasi.db import PrivasiSession
from privasi.vault.errors import VaultError
from privasi.vault.keystore import ShredEntry, WrappedKey
from privasi.vault.models import ShredRecord

if TYPE_CHECKING:
    from privasi.vault.core import Vault

WHOLE_ORG = "*"


@dataclass(frozen=True)
class ReapplyResult:
    keys_destroyed: int
    journal_restored: int
    mirror_restored: int


def subject_name(subject_id: str) -> str:
    from privasi.errors import ValidationFailed

    if not subject_id or len(subject_id) > 64 or subject_id == WHOLE_ORG:
        raise ValidationFailed("a subject id must be 1-64 characters", field="subject_id")
    return f"subject:{subject_id}"


def journalled(session: Session, org_id: str, subject_id: str | None) -> bool:
    """Whether the subject (or, with ``None``, the organisation as a whole) was shredded."""
    wanted = [WHOLE_ORG] if subject_id is None else [subject_id, WHOLE_ORG]
    found = session.scalar(
        select(ShredEntry.id).where(ShredEntry.org_id == org_id, ShredEntry.subject_id.in_(wanted))
    )
    return found is not None


def shred(vault: Vault, org_id: str, subject_id: str, session: PrivasiSession | None) -> bool:
    name = subject_name(subject_id)
    if session is not None and session.org_id not in (None, org_id):
        raise VaultError("refusing to shred a subject of another organisation")
    with vault.keystore.session() as ks:
        row = vault.keystore.find(ks, org_id, name)
        key_id = row.key_id if row is not None else None
        already = journalled(ks, org_id, subject_id)
        if not already:
            ks.add(ShredEntry(org_id=org_id, subject_id=subject_id, key_id=key_id))
        if row is not None:
            ks.delete(row)
    vault._forget(org_id, name)
    if session is not None:
        exists = session.scalar(
            select(ShredRecord.id).where(
                ShredRecord.org_id == org_id, ShredRecord.subject_id == subject_id
            )
        )
        if exists is None:
            session.add(ShredRecord(org_id=org_id, subject_id=subject_id, key_id=key_id))
            session.flush()
    return not already or row is not None


def shred_org(vault: Vault, org_id: str) -> int:
    """Destroy every key of an organisation (end of a service agreement); returns how many."""
    with vault.keystore.session() as ks:
        if not journalled(ks, org_id, None):
            ks.add(ShredEntry(org_id=org_id, subject_id=WHOLE_ORG))
        result = ks.execute(delete(WrappedKey).where(WrappedKey.org_id == org_id))
        destroyed = int(result.rowcount)  # type: ignore[attr-defined]
    vault._forget(org_id)
    return destroyed


def reapply_shreds(vault: Vault, session: PrivasiSession | None) -> ReapplyResult:
    mirror: dict[tuple[str, str], str | None] = {}
    if session is not None:
        for rec in session.scalars(select(ShredRecord)):
            mirror[(rec.org_id, rec.subject_id)] = rec.key_id
    destroyed = journal_restored = 0
    with vault.keystore.session() as ks:
        journal = {(e.org_id, e.subject_id): e.key_id for e in ks.scalars(select(ShredEntry))}
        for (org_id, subject_id), key_id in mirror.items():
            if (org_id, subject_id) not in journal:
                ks.add(ShredEntry(org_id=org_id, subject_id=subject_id, key_id=key_id))
                journal[(org_id, subject_id)] = key_id
                journal_restored += 1
        for org_id, subject_id in journal:
            stmt = delete(WrappedKey).where(WrappedKey.org_id == org_id)
            if subject_id != WHOLE_ORG:
                stmt = stmt.where(WrappedKey.name == subject_name(subject_id))
            destroyed += ks.execute(stmt).rowcount  # type: ignore[attr-defined]
    mirror_restored = 0
    if session is not None:
        scope = session.org_id
        for (org_id, subject_id), key_id in journal.items():
            # An organisation shredded as a whole is usually deleted from the main database too.
            if subject_id == WHOLE_ORG or (org_id, subject_id) in mirror:
                continue
            if scope is not None and org_id != scope:
                continue
            session.add(ShredRecord(org_id=org_id, subject_id=subject_id, key_id=key_id))
            mirror_restored += 1
        session.flush()
    vault._forget_all()
    return ReapplyResult(destroyed, journal_restored, mirror_restored)
