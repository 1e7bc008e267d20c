"""Legal holds: keep a subject's data, a category or a whole system past its retention, and stop
erasure of it, until someone releases the hold. Each hold names its reason and its owner, and
everything it blocks shows them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import PrivasiSession, utcnow
from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.retention.models import LegalHold

SCOPES = ("subject", "category", "system")


@dataclass(frozen=True)
class HoldItem:
    id: str
    scope: str
    target: str
    reason: str
    owner: str
    created_at: datetime


def item(hold: LegalHold) -> HoldItem:
    return HoldItem(hold.id, hold.scope, hold.target, hold.reason, hold.owner, hold.created_at)


def place(
    session: PrivasiSession,
    principal: Principal,
    *,
    scope: str,
    target: str,
    reason: str,
    owner: str,
) -> LegalHold:
    """Place a hold; the target is a subject id, a category id or a system id of the policy."""
    if scope not in SCOPES:
        raise ValidationFailed(f"scope is one of {', '.join(SCOPES)}", field="scope")
    target, reason, owner = target.strip(), reason.strip(), owner.strip()
    if not target:
        raise ValidationFailed("name what the hold keeps", field="target")
    if not reason:
        raise ValidationFailed("say why the data must be kept", field="reason")
    if not owner:
        raise ValidationFailed("name who owns the hold", field="owner")
    _check_target(session, scope, target)
    hold = LegalHold(
        scope=scope,
        target=target[:100],
        reason=reason[:2000],
        owner=owner[:200],
        placed_by=principal.actor[:100],
    )
    session.add(hold)
    session.flush()
    audit.record(
        session,
        principal,
        "retention.hold_placed",
        subject_id=target if scope == "subject" else None,
        details={
            "hold_id": hold.id,
            "scope": scope,
            "target": None if scope == "subject" else target,
        },
    )
    return hold


def _check_target(session: PrivasiSession, scope: str, target: str) -> None:
    if scope == "subject":
        from privasi.subjects import service as subjects

        subjects.get_subject(session, target)  # NotFound for an unknown or foreign subject
        return
    from privasi.policy import service as policies

    policy = policies.current_policy(session)
    known = (
        {c.id for c in policy.categories} if scope == "category" else {s.id for s in policy.systems}
    )
    if target not in known:
        raise ValidationFailed(f"the policy in effect has no {scope} '{target}'", field="target")


def get(session: PrivasiSession, hold_id: str) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFound("legal hold not found")
    return hold


def release(
    session: PrivasiSession, principal: Principal, hold: LegalHold, note: str | None = None
) -> LegalHold:
    if hold.released_at is not None:
        raise InvalidTransition("this hold was already released")
    hold.released_at = utcnow()
    hold.released_by = principal.actor[:100]
    hold.release_note = (note or "").strip()[:2000] or None
    session.flush()
    audit.record(
        session,
        principal,
        "retention.hold_released",
        subject_id=hold.target if hold.scope == "subject" else None,
        details={"hold_id": hold.id, "scope": hold.scope},
    )
    _resume_erasures(session, hold)
    return hold


def _resume_erasures(session: PrivasiSession, hold: LegalHold) -> None:
    """Erasures that waited for this hold run again (those still held wait again)."""
    from privasi.rights import service as rights
    from privasi.rights.execution import schedule

    subject_id = hold.target if hold.scope == "subject" else None
    requests = rights.list_requests(
        session, open_only=True, limit=500, subject_id=subject_id, order="newest"
    ).items
    for request in requests:
        if request.type == "erasure" and request.verified_at is not None:
            schedule(session, request, stage=f"hold-released:{hold.id}")


def active(session: PrivasiSession) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.released_at.is_(None))
            .order_by(LegalHold.created_at.desc(), LegalHold.id)
        )
    )


def listing(session: PrivasiSession, *, include_released: bool = False) -> list[LegalHold]:
    query = select(LegalHold).order_by(LegalHold.created_at.desc(), LegalHold.id)
    if not include_released:
        query = query.where(LegalHold.released_at.is_(None))
    return list(session.scalars(query))


def blocking(
    session: PrivasiSession,
    *,
    subject_id: str | None = None,
    categories: Iterable[str] = (),
    system: str | None = None,
) -> list[HoldItem]:
    """The active holds that keep this subject's data, any of these categories, or this system."""
    wanted = set(categories)
    found = []
    for hold in active(session):
        if (
            (hold.scope == "subject" and subject_id is not None and hold.target == subject_id)
            or (hold.scope == "category" and hold.target in wanted)
            or (hold.scope == "system" and system is not None and hold.target == system)
        ):
            found.append(item(hold))
    return found


def held_sets(session: PrivasiSession) -> tuple[set[str], set[str], set[str]]:
    """Held subject ids, categories and systems."""
    subjects: set[str] = set()
    categories: set[str] = set()
    systems: set[str] = set()
    for hold in active(session):
        {"subject": subjects, "category": categories, "system": systems}[hold.scope].add(
            hold.target
        )
    return subjects, categories, systems


def erasure_held(session: PrivasiSession, request: Any, task: Any) -> bool:
    """Called before an erasure task runs: when a hold keeps the data, the task waits with the
    holds' reasons on it instead of erasing (it runs again once the hold is released)."""
    categories = (task.result or {}).get("categories") or []
    if task.kind == "privasi":
        from privasi.policy import service as policies
        from privasi.retention.rules import privasi_system

        own = privasi_system(policies.current_policy(session))
        categories = own.categories if own is not None else []
    found = blocking(
        session, subject_id=request.subject_id, categories=categories, system=task.system_id
    )
    if not found:
        return False
    task.status = "waiting"
    task.result = {
        **(task.result or {}),
        "held": [
            {"hold_id": h.id, "scope": h.scope, "reason": h.reason, "owner": h.owner} for h in found
        ],
    }
    session.flush()
    return True
