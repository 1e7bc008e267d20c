"""Old rows of the consent channels, removed by the worker (data minimisation).

Verification challenges are needed for their 10 minutes and the hour the rate limits look back;
a day more leaves room to look into abuse. WhatsApp delivery records only stop Meta's retries from
acting twice, and Meta gives up retrying after 7 days.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from privasi.consent.channels.models import VerificationChallenge, WhatsAppDelivery
from privasi.db import PrivasiSession, utcnow
from privasi.worker import reconciler

CHALLENGE_RETENTION = timedelta(days=1)
DELIVERY_RETENTION = timedelta(days=30)


@reconciler("consent-channels-housekeeping")
def purge(system: PrivasiSession) -> int:
    now = utcnow()
    removed = 0
    for statement in (
        delete(VerificationChallenge).where(
            VerificationChallenge.created_at < now - CHALLENGE_RETENTION
        ),
        delete(WhatsAppDelivery).where(WhatsAppDelivery.received_at < now - DELIVERY_RETENTION),
    ):
        result = system.execute(statement)
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed
