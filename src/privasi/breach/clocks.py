"""The notice clocks of a breach: when each is due, whether its notice went out in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from privasi.db import PrivasiSession

from .models import Breach, BreachNotice


@dataclass(frozen=True)
class Clock:
    name: str  # business_users | subjects | authority
    started_at: datetime
    due_at: datetime
    met_at: datetime | None

    def time_left(self, now: datetime) -> int:
        """Seconds until the due time; negative once overdue."""
        return int((self.due_at - now).total_seconds())

    def share_used(self, now: datetime) -> float:
        total = (self.due_at - self.started_at).total_seconds()
        end = self.met_at or now
        if total <= 0:
            return 100.0
        return 100.0 * (end - self.started_at).total_seconds() / total

    def overdue(self, now: datetime) -> bool:
        return (self.met_at or now) > self.due_at

    def stage_time(self, share: int) -> datetime:
        return self.started_at + (self.due_at - self.started_at) * share / 100


def required_clocks(breach: Breach) -> list[str]:
    names = ["subjects", "authority"]
    if breach.business_users_due_at is not None:
        names.insert(0, "business_users")
    return names


def clocks(session: PrivasiSession, breach: Breach) -> list[Clock]:
    sent = {
        n.audience: n.sent_at
        for n in session.scalars(select(BreachNotice).where(BreachNotice.breach_id == breach.id))
    }
    due = {
        "business_users": breach.business_users_due_at,
        "subjects": breach.subjects_due_at,
        "authority": breach.authority_due_at,
    }
    out = []
    for name in required_clocks(breach):
        due_at = due[name]
        assert due_at is not None
        out.append(Clock(name, breach.detected_at, due_at, sent.get(name)))
    return out


def next_due(session: PrivasiSession, breach: Breach) -> Clock | None:
    """The earliest clock whose notice is not sent yet."""
    unmet = [c for c in clocks(session, breach) if c.met_at is None]
    return min(unmet, key=lambda c: c.due_at) if unmet else None
