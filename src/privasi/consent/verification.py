"""One-time codes that prove a person controls the e-mail address or phone number on record.

Generic on purpose: the privacy center's consent page uses it today and rights requests reuse it.
A challenge belongs to a ``purpose`` (what the code unlocks), a subject (or none: an unknown
address gets a challenge that can never succeed, so the page does not reveal who is on record)
and a ``channel``. The code itself is sealed under the organisation's secrets key from the key
store, so the main database alone does not give it away, and it is compared in constant time.

Rules: 6 digits, valid 10 minutes, 5 attempts, and issuing is rate limited per subject and per
client network from rows in the database, so every process of a deployment shares the limits.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from privasi.consent.channels.models import VerificationChallenge
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import Locked, NotFound, PrivasiError, RateLimited, ValidationFailed
from privasi.vault.service import vault_for

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RATE_WINDOW = timedelta(hours=1)
MAX_PER_SUBJECT = 5  # codes sent to one person an hour: stops someone flooding their inbox
MAX_PER_NETWORK = 20  # codes asked from one /24 (or /48) an hour: stops enumeration at scale
CHANNELS = frozenset({"email", "phone", "whatsapp", "sms"})


class CodeExpired(PrivasiError):
    status = 410
    type = "verification-code-expired"
    title = "The verification code has expired; ask for a new one"


class CodeIncorrect(ValidationFailed):
    type = "verification-code-incorrect"
    title = "The verification code is not correct"


@dataclass(frozen=True)
class Issued:
    challenge_id: str
    code: str  # hand to the outbox only; never log or return it in an API answer
    expires_at: datetime


def _aad(challenge_id: str) -> str:
    return f"verification:{challenge_id}"


def _count_since(session: PrivasiSession, since: datetime, *criteria: object) -> int:
    query = select(func.count()).select_from(VerificationChallenge)
    query = query.where(VerificationChallenge.created_at >= since, *criteria)  # type: ignore[arg-type]
    return int(session.scalar(query) or 0)


def issue(
    session: PrivasiSession,
    *,
    purpose: str,
    subject_id: str | None,
    channel: str,
    client_network: str | None = None,
    now: datetime | None = None,
) -> Issued:
    """A new challenge and its code, in the caller's transaction; ``RateLimited`` when exceeded."""
    org_id = session.require_org()
    if channel not in CHANNELS:
        raise ValidationFailed(f"unknown verification channel '{channel}'", field="channel")
    if not purpose or len(purpose) > 64:
        raise ValidationFailed("a verification purpose is 1-64 characters", field="purpose")
    now = now or utcnow()
    since = now - RATE_WINDOW
    if subject_id is not None and (
        _count_since(session, since, VerificationChallenge.subject_id == subject_id)
        >= MAX_PER_SUBJECT
    ):
        raise RateLimited("too many codes were sent recently; try again in an hour")
    if client_network is not None and (
        _count_since(session, since, VerificationChallenge.client_network == client_network)
        >= MAX_PER_NETWORK
    ):
        raise RateLimited("too many codes were asked for from this network; try again later")
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = VerificationChallenge(
        id=new_id(),
        purpose=purpose,
        subject_id=subject_id,
        channel=channel,
        attempts=0,
        client_network=client_network,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    challenge.code_sealed = vault_for(session).seal_for_org(
        org_id, "secrets", code.encode(), _aad(challenge.id)
    )
    session.add(challenge)
    session.flush()
    return Issued(challenge.id, code, challenge.expires_at)


def issue_for_visitor(
    session: PrivasiSession,
    *,
    purpose: str,
    subject_id: str | None,
    channel: str,
    client_network: str | None,
) -> tuple[Issued, bool]:
    """A public form's challenge, and whether its code may be sent.

    The per-person limit only ever hits someone on record; answering it differently would tell
    who is. That person gets a challenge that cannot succeed (no code is sent, the page reads as
    usual); only the per-network limit, alike for everyone, raises ``RateLimited``.
    """
    try:
        issued = issue(
            session,
            purpose=purpose,
            subject_id=subject_id,
            channel=channel,
            client_network=client_network,
        )
        return issued, subject_id is not None
    except RateLimited:
        if subject_id is None:
            raise
    issued = issue(
        session, purpose=purpose, subject_id=None, channel=channel, client_network=client_network
    )
    return issued, False


def get(session: PrivasiSession, challenge_id: str) -> VerificationChallenge:
    challenge = session.get(VerificationChallenge, challenge_id)
    if challenge is None:
        raise NotFound("verification challenge not found")
    return challenge


def verify(
    session: PrivasiSession,
    challenge_id: str,
    code: str,
    *,
    purpose: str,
    now: datetime | None = None,
) -> VerificationChallenge:
    """The challenge once ``code`` matches; each wrong try counts, whatever the outcome.

    The attempt is counted before comparing, and the caller's transaction must commit even when
    this raises ``CodeIncorrect`` (the privacy center does), or guesses would cost nothing.
    """
    now = now or utcnow()
    challenge = session.scalar(
        select(VerificationChallenge)
        .where(VerificationChallenge.id == challenge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if challenge is None or challenge.purpose != purpose:
        raise NotFound("verification challenge not found")
    if challenge.verified_at is not None:
        raise CodeExpired("this code was already used; ask for a new one")
    if challenge.attempts >= MAX_ATTEMPTS:
        raise Locked("too many wrong codes; ask for a new one")
    if now >= challenge.expires_at:
        raise CodeExpired()
    challenge.attempts += 1
    session.flush()
    expected = vault_for(session).open_for_org(
        session.require_org(), "secrets", challenge.code_sealed, _aad(challenge.id)
    )
    given = "".join(code.split()).encode()
    # A challenge for an unknown address has no subject: it runs the same steps and never matches.
    matches = hmac.compare_digest(expected, given) and challenge.subject_id is not None
    if not matches:
        left = MAX_ATTEMPTS - challenge.attempts
        if left <= 0:
            raise Locked("too many wrong codes; ask for a new one")
        raise CodeIncorrect(f"the code is not correct; {left} attempts left", attempts_left=left)
    challenge.verified_at = now
    session.flush()
    return challenge
