"""Merging two records of the same person, after a 409 told staff that identifiers of one
person were split over two subjects.

Identifiers move to the kept subject (decrypted with the old subject's key and sealed with the
kept one's), as do the age, guardian links, restriction and objections; consent is carried over
(``privasi.consent.carry``). The merged-away subject stays, marked ``merged``, so its ledger
keeps its evidence; nothing new can be recorded for it.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from privasi.audit import service as audit
from privasi.db import PrivasiSession, utcnow
from privasi.errors import InvalidTransition, ValidationFailed
from privasi.orgs.service import Principal
from privasi.subjects import service as subjects
from privasi.subjects.models import GuardianLink, Subject, SubjectIdentifier
from privasi.vault.core import vault_for
from privasi.vault.errors import VaultError

MERGED = "merged"


def _move_links(session: PrivasiSession, keep: Subject, other: Subject) -> int:
    moved = 0
    for field in ("minor_id", "guardian_id"):
        column = getattr(GuardianLink, field)
        for link in list(session.scalars(select(GuardianLink).where(column == other.id))):
            pair = {
                "minor_id": link.minor_id if field != "minor_id" else keep.id,
                "guardian_id": link.guardian_id if field != "guardian_id" else keep.id,
            }
            clash = session.scalar(
                select(GuardianLink).where(
                    GuardianLink.minor_id == pair["minor_id"],
                    GuardianLink.guardian_id == pair["guardian_id"],
                )
            )
            if clash is not None or pair["minor_id"] == pair["guardian_id"]:
                link.revoked_at = link.revoked_at or utcnow()
                continue
            setattr(link, field, keep.id)
            moved += 1
    return moved


def merge(session: PrivasiSession, principal: Principal, keep: Subject, other: Subject) -> Subject:
    """Fold ``other`` into ``keep``; returns ``keep``."""
    from privasi.consent.carry import carry_over

    if keep.id == other.id:
        raise ValidationFailed("a subject cannot be merged into itself", field="other_id")
    if MERGED in (keep.state, other.state):
        raise InvalidTransition("a merged subject cannot be merged again")
    values = subjects.identifiers(session, other)
    session.execute(delete(SubjectIdentifier).where(SubjectIdentifier.subject_id == other.id))
    for kind, items in values.items():
        for value in items:
            subjects.store_identifiers(session, keep.id, {kind: value})
    vault = vault_for(session)
    if keep.age_enc is None and other.age_enc is not None:
        try:
            facts = vault.decrypt_field(other.org_id, other.id, other.age_enc, "subject_age")
        except VaultError:
            facts = None
        if facts is not None:
            keep.age_enc = vault.encrypt_field(keep.org_id, keep.id, facts, "subject_age")
            keep.minor_until, keep.minor_age = other.minor_until, other.minor_age
    links = _move_links(session, keep, other)
    keep.restricted = keep.restricted or other.restricted
    keep.objections = sorted(set(keep.objections or []) | set(other.objections or []))
    other.state = MERGED
    other.merged_into = keep.id
    session.flush()
    carried = carry_over(session, principal, keep.id, other.id)
    audit.record(
        session,
        principal,
        "subject.merged",
        subject_id=keep.id,
        details={
            "merged_subject_id": other.id,
            "identifier_kinds": sorted(values),
            "guardian_links": links,
            "consent_carried": carried,
        },
    )
    return keep
