"""The breach register: record an incident, confirm, edit, close, its clocks and its timeline.

Clocks run from awareness, the detection time (UU PDP Pasal 46: 3 x 24 hours, to the people
affected and to the authority; the jurisdiction profile's period in ``policy.law``). They are fixed
when the breach is recorded and never moved. In processor mode each affected Business User is
told first, by default within 24 hours (``PRIVASI_BREACH_BUSINESS_USER_HOURS``). A clock is met
when its notice is sent. Affected subjects live in ``affected.py``, notices in ``notices.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from privasi.audit import service as audit
from privasi.db import PrivasiSession, utcnow
from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.policy import law
from privasi.policy import service as policies
from privasi.policy.schema import Policy
from privasi.policy.vocab import Role

from .clocks import Clock, clocks, next_due, required_clocks
from .models import (
    OPEN_STATUSES,
    SEVERITIES,
    Breach,
    BreachEvent,
    BreachNotice,
)

__all__ = [
    "BreachItem",
    "Clock",
    "clocks",
    "close",
    "confirm",
    "create",
    "dashboard_items",
    "find",
    "get",
    "list_breaches",
    "next_due",
    "required_clocks",
    "timeline",
    "update",
]

CLOCKS = ("business_users", "subjects", "authority")
LANGS = ("id", "en")
MAX_TEXT = 4000
DEFAULT_BUSINESS_USER_HOURS = 24.0
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class BreachItem:
    """What the admin dashboard shows about an open breach (no personal data)."""

    id: str
    title: str
    severity: str
    status: str
    due_at: datetime
    overdue: bool
    url: str


def reference(breach: Breach) -> str:
    return f"BR-{breach.number:04d}"


def url_of(breach: Breach) -> str:
    return f"/admin/breaches/{breach.id}"


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValidationFailed(
            "give times with a time zone (e.g. 2026-05-01T09:00:00+07:00)", field=field
        )
    return value.astimezone(UTC)


def _localized(value: dict[str, str] | str | None, field: str) -> dict[str, str]:
    """Texts in id and en; a plain string is taken as Indonesian."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = {"id": value}
    out: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in LANGS:
            raise ValidationFailed("texts are given in 'id' and 'en'", field=f"{field}.{lang}")
        text = (text or "").strip()
        if len(text) > MAX_TEXT:
            raise ValidationFailed(f"at most {MAX_TEXT} characters", field=f"{field}.{lang}")
        if text:
            out[lang] = text
    return out


def _check_scope(policy: Policy, systems: list[str], categories: list[str]) -> None:
    for i, system_id in enumerate(systems):
        try:
            policy.system(system_id)
        except KeyError:
            raise ValidationFailed(
                f"the policy in effect has no system '{system_id}'", field=f"systems.{i}"
            ) from None
    for i, category_id in enumerate(categories):
        try:
            policy.category(category_id)
        except KeyError:
            raise ValidationFailed(
                f"the policy in effect has no category '{category_id}'", field=f"categories.{i}"
            ) from None


def processor_mode(policy: Policy) -> bool:
    return policy.organisation.role is Role.processor and policy.breach.notify_business_users


def _zone(session: PrivasiSession) -> ZoneInfo:
    org = orgs.get_org(session, session.require_org())
    return ZoneInfo(org.time_zone or "Asia/Jakarta")


def event(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    kind: str,
    note: str | None = None,
    **details: Any,
) -> BreachEvent:
    """A timeline line and its audit event, in the caller's transaction. ``details`` hold ids,
    counts and field names; ``note`` is staff's own words about the incident and stays on the
    timeline only, since the audit chain is never deleted."""
    row = BreachEvent(
        breach_id=breach.id, kind=kind, actor=principal.actor, note=note, details=details
    )
    session.add(row)
    audit.record(
        session,
        principal,
        f"breach.{kind}",
        details={"breach_id": breach.id, **details},
    )
    session.flush()
    return row


def _next_number(session: PrivasiSession) -> int:
    last = session.scalar(select(func.max(Breach.number)))
    return int(last or 0) + 1


def create(
    session: PrivasiSession,
    principal: Principal,
    *,
    title: str,
    detected_at: datetime | None = None,
    confirmed_at: datetime | None = None,
    occurred_from: datetime | None = None,
    occurred_until: datetime | None = None,
    severity: str = "medium",
    systems: list[str] | None = None,
    categories: list[str] | None = None,
    description: dict[str, str] | str | None = None,
    measures: dict[str, str] | str | None = None,
    advice: dict[str, str] | str | None = None,
    owner_id: str | None = None,
    business_user_org_ids: list[str] | None = None,
    business_user_hours: float = DEFAULT_BUSINESS_USER_HOURS,
    now: datetime | None = None,
) -> Breach:
    """Record an incident. Its clocks start at ``detected_at`` (default now); in processor mode
    the Business Users are due within ``business_user_hours``
    (``PRIVASI_BREACH_BUSINESS_USER_HOURS``)."""
    now = now or utcnow()
    title = (title or "").strip()
    if not 1 <= len(title) <= 200:
        raise ValidationFailed("title must be 1-200 characters", field="title")
    if severity not in SEVERITIES:
        raise ValidationFailed(f"severity is one of {', '.join(SEVERITIES)}", field="severity")
    detected = _aware(detected_at, "detected_at") or now
    if detected > now + timedelta(minutes=5):
        raise ValidationFailed("detected_at cannot be in the future", field="detected_at")
    policy = policies.current_policy(session)
    systems = list(dict.fromkeys(systems or []))
    categories = list(dict.fromkeys(categories or []))
    _check_scope(policy, systems, categories)
    if owner_id is not None:
        orgs.get_staff(session, owner_id)  # NotFound for someone not on this organisation's staff
    clock_period = law.breach_notice_deadline(policy)
    local = detected.astimezone(_zone(session))
    due = clock_period.add_to(local).astimezone(UTC)
    breach = Breach(
        number=_next_number(session),
        title=title,
        severity=severity,
        status="detected",
        owner_id=owner_id,
        detected_at=detected,
        systems=systems,
        categories=categories,
        description=_localized(description, "description"),
        measures=_localized(measures, "measures"),
        advice=_localized(advice, "advice"),
        clock_basis=",".join(j.value for j in policy.jurisdictions) + f":{clock_period.iso()}",
        subjects_due_at=due,
        authority_due_at=due,
        business_user_org_ids=[],
        escalations={},
        notice_lang=policy.languages[0].value if policy.languages else "id",
        created_by=principal.actor,
    )
    if processor_mode(policy):
        breach.business_users_due_at = detected + timedelta(hours=business_user_hours)
        breach.business_user_org_ids = list(dict.fromkeys(business_user_org_ids or []))
    _set_window(breach, occurred_from, occurred_until)
    session.add(breach)
    session.flush()
    event(
        session,
        principal,
        breach,
        "recorded",
        severity=severity,
        systems=systems,
        categories=categories,
    )
    if confirmed_at is not None:
        confirm(session, principal, breach, confirmed_at, now=now)
    return breach


def _set_window(breach: Breach, since: datetime | None, until: datetime | None) -> None:
    since = _aware(since, "occurred_from")
    until = _aware(until, "occurred_until")
    if since is not None and until is not None and until < since:
        raise ValidationFailed("occurred_until is before occurred_from", field="occurred_until")
    breach.occurred_from = since
    breach.occurred_until = until


def get(session: PrivasiSession, breach_id: str) -> Breach:
    breach = (
        session.get(Breach, breach_id)
        if isinstance(breach_id, str) and len(breach_id) <= 36
        else None
    )
    if breach is None:
        raise NotFound("breach not found")
    return breach


def find(session: PrivasiSession, ref: str) -> Breach:
    """A breach by its reference (BR-0001) or id."""
    text = (ref or "").strip().upper()
    if text.startswith("BR-") and text[3:].isdigit():
        breach = session.scalar(select(Breach).where(Breach.number == int(text[3:])))
        if breach is None:
            raise NotFound("breach not found")
        return breach
    return get(session, ref.strip())


def list_breaches(
    session: PrivasiSession, *, open_only: bool = False, limit: int = 100
) -> list[Breach]:
    query = select(Breach)
    if open_only:
        query = query.where(Breach.status.in_(OPEN_STATUSES))
    rows = session.scalars(
        query.order_by(Breach.detected_at.desc(), Breach.number.desc()).limit(limit)
    )
    return list(rows)


def _require_open(breach: Breach) -> None:
    if breach.status not in OPEN_STATUSES:
        raise InvalidTransition(f"the breach is {breach.status}")


def confirm(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    confirmed_at: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Breach:
    """Record that the incident is a breach. The clocks keep running from detection."""
    _require_open(breach)
    if breach.confirmed_at is not None:
        raise InvalidTransition("the breach is already confirmed")
    when = _aware(confirmed_at, "confirmed_at") or now or utcnow()
    if when < breach.detected_at:
        raise ValidationFailed("confirmed_at is before detected_at", field="confirmed_at")
    breach.confirmed_at = when
    if breach.status == "detected":
        breach.status = "confirmed"
    event(session, principal, breach, "confirmed")
    return breach


EDITABLE = (
    "title",
    "severity",
    "systems",
    "categories",
    "description",
    "measures",
    "advice",
    "owner_id",
    "occurred_from",
    "occurred_until",
    "business_user_org_ids",
)


# What the notices say: a change to any of these needs a new approval.
CONTENT_FIELDS = {
    "categories",
    "description",
    "measures",
    "advice",
    "occurred_from",
    "occurred_until",
}


def update(
    session: PrivasiSession, principal: Principal, breach: Breach, changes: dict[str, Any]
) -> Breach:
    """Change what is known about the incident. A change to what a notice says sends its
    approval back: an approved but unsent notice becomes a draft again."""
    _require_open(breach)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(f"cannot change: {', '.join(unknown)}", field=unknown[0])
    policy = policies.current_policy(session)
    if "title" in changes:
        title = (changes["title"] or "").strip()
        if not 1 <= len(title) <= 200:
            raise ValidationFailed("title must be 1-200 characters", field="title")
        breach.title = title
    if "severity" in changes:
        if changes["severity"] not in SEVERITIES:
            raise ValidationFailed(f"severity is one of {', '.join(SEVERITIES)}", field="severity")
        breach.severity = changes["severity"]
    systems = list(dict.fromkeys(changes.get("systems", breach.systems) or []))
    categories = list(dict.fromkeys(changes.get("categories", breach.categories) or []))
    _check_scope(policy, systems, categories)
    breach.systems, breach.categories = systems, categories
    for name in ("description", "measures", "advice"):
        if name in changes:
            setattr(breach, name, _localized(changes[name], name))
    if "owner_id" in changes:
        if changes["owner_id"] is not None:
            orgs.get_staff(session, changes["owner_id"])
        breach.owner_id = changes["owner_id"]
    if "occurred_from" in changes or "occurred_until" in changes:
        _set_window(
            breach,
            changes.get("occurred_from", breach.occurred_from),
            changes.get("occurred_until", breach.occurred_until),
        )
    if "business_user_org_ids" in changes:
        breach.business_user_org_ids = list(dict.fromkeys(changes["business_user_org_ids"] or []))
    session.flush()
    event(session, principal, breach, "updated", fields=sorted(changes))
    if set(changes) & CONTENT_FIELDS:
        _reopen_approved(session, principal, breach)
    return breach


def _reopen_approved(session: PrivasiSession, principal: Principal, breach: Breach) -> None:
    for notice in session.scalars(
        select(BreachNotice).where(
            BreachNotice.breach_id == breach.id, BreachNotice.status == "approved"
        )
    ):
        notice.status = "draft"
        notice.approved_by = None
        notice.approved_at = None
        event(session, principal, breach, "notice_reopened", audience=notice.audience)


def close(
    session: PrivasiSession,
    principal: Principal,
    breach: Breach,
    reason: str,
    *,
    dismissed: bool = False,
    now: datetime | None = None,
) -> Breach:
    """Close the case (everything done), or dismiss it (it turned out not to be a breach)."""
    _require_open(breach)
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= MAX_TEXT:
        raise ValidationFailed("give the reason for closing (1-4000 characters)", field="reason")
    if not dismissed:
        missing = [c.name for c in clocks(session, breach) if c.met_at is None]
        if missing:
            raise InvalidTransition(
                "notices not sent yet: " + ", ".join(missing) + "; send them, or dismiss the case"
            )
    breach.status = "dismissed" if dismissed else "closed"
    breach.closed_at = now or utcnow()
    breach.close_reason = reason
    event(session, principal, breach, "dismissed" if dismissed else "closed", note=reason)
    return breach


# --- the dashboard -----------------------------------------------------------------------------


def dashboard_items(session: PrivasiSession, now: datetime) -> list[BreachItem]:
    """Open breaches, most urgent first: the earliest unmet notice deadline, then severity."""
    items: list[tuple[datetime, int, BreachItem]] = []
    for breach in list_breaches(session, open_only=True, limit=500):
        clock = next_due(session, breach)
        if clock is None:
            continue  # every notice sent: nothing is due any more
        item = BreachItem(
            id=breach.id,
            title=breach.title,
            severity=breach.severity,
            status=breach.status,
            due_at=clock.due_at,
            overdue=now > clock.due_at,
            url=url_of(breach),
        )
        items.append((clock.due_at, -SEVERITY_RANK.get(breach.severity, 0), item))
    items.sort(key=lambda row: (row[0], row[1]))
    return [item for _, _, item in items]


def timeline(session: PrivasiSession, breach: Breach) -> list[BreachEvent]:
    return list(
        session.scalars(
            select(BreachEvent)
            .where(BreachEvent.breach_id == breach.id)
            .order_by(BreachEvent.at, BreachEvent.id)
        )
    )


def add_note(
    session: PrivasiSession, principal: Principal, breach: Breach, note: str
) -> BreachEvent:
    """An action taken, in staff's words, on the timeline (a containment step, a call made)."""
    note = (note or "").strip()
    if not 1 <= len(note) <= MAX_TEXT:
        raise ValidationFailed("a note is 1-4000 characters", field="note")
    return event(session, principal, breach, "action", note=note)


def local_time(session: PrivasiSession, moment: datetime | None) -> str | None:
    return moment.astimezone(_zone(session)).isoformat() if moment else None
