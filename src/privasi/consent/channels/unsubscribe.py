"""One-click unsubscribe links (RFC 8058) for the business's e-mails.

A link names one subject and one purpose and expires; it is signed with the deployment's secret
key and bound to the organisation, so it cannot be edited into another person's or another
organisation's link. It carries ids only, never an address. The business puts the link in
``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; mail clients then
``POST`` it without cookies and the withdrawal is recorded at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from privasi.consent import service as consent
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound, PrivasiError, ValidationFailed
from privasi.notify import service as notify
from privasi.orgs.service import Principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy, Purpose
from privasi.policy.vocab import LegalBasis
from privasi.subjects import service as subjects

DEFAULT_TTL = timedelta(days=60)
MAX_TTL = timedelta(days=366)
POST_BODY = "List-Unsubscribe=One-Click"


class LinkExpired(PrivasiError):
    status = 410
    type = "unsubscribe-link-expired"
    title = "This unsubscribe link has expired"


class LinkInvalid(NotFound):
    type = "unsubscribe-link-invalid"
    title = "This unsubscribe link is not valid"


@dataclass(frozen=True)
class Link:
    org_id: str
    subject_id: str
    purpose: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, org_id: str, body: str) -> str:
    message = b"unsubscribe\x00" + org_id.encode() + b"\x00" + body.encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:20])


def make_token(
    secret: bytes, org_id: str, subject_id: str, purpose: str, expires_at: datetime
) -> str:
    body = _b64(
        json.dumps(
            {"s": subject_id, "p": purpose, "e": int(expires_at.timestamp())},
            separators=(",", ":"),
        ).encode()
    )
    return f"{body}.{_mac(secret, org_id, body)}"


def read_token(secret: bytes, org_id: str, token: str, now: datetime | None = None) -> Link:
    """The link a token stands for; ``LinkInvalid`` if forged or altered, ``LinkExpired`` after."""
    body, _, mac = token.partition(".")
    if not body or not mac or not hmac.compare_digest(_mac(secret, org_id, body), mac):
        raise LinkInvalid()
    try:
        data = json.loads(_unb64(body))
        subject_id, purpose, expires = str(data["s"]), str(data["p"]), int(data["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkInvalid() from exc
    expires_at = datetime.fromtimestamp(expires, tz=(now or utcnow()).tzinfo)
    if (now or utcnow()) >= expires_at:
        raise LinkExpired()
    return Link(org_id, subject_id, purpose, expires_at)


def consent_purpose(policy: Policy, purpose_id: str) -> Purpose:
    try:
        purpose = policy.purpose(purpose_id)
    except KeyError:
        raise ValidationFailed(
            f"no purpose '{purpose_id}' in the policy", field="purpose"
        ) from None
    if purpose.legal_basis is not LegalBasis.consent:
        raise ValidationFailed(
            f"purpose '{purpose_id}' does not rest on consent, so there is nothing to unsubscribe",
            field="purpose",
        )
    return purpose


def create_link(
    session: PrivasiSession,
    secret: bytes,
    base_url: str,
    org_slug: str,
    subject_id: str,
    purpose_id: str,
    ttl: timedelta = DEFAULT_TTL,
) -> tuple[str, datetime]:
    """The URL for ``List-Unsubscribe`` and when it expires."""
    if not timedelta(hours=1) <= ttl <= MAX_TTL:
        raise ValidationFailed("a link lives between 1 hour and 366 days", field="ttl_days")
    subjects.get_subject(session, subject_id)
    consent_purpose(policies.current_policy(session), purpose_id)
    expires_at = (utcnow() + ttl).replace(microsecond=0)
    token = make_token(secret, session.require_org(), subject_id, purpose_id, expires_at)
    return f"{base_url}/consent/{org_slug}/unsubscribe/{token}", expires_at


@dataclass(frozen=True)
class Unsubscribed:
    purpose: Purpose
    changed: bool  # False: already withdrawn, nothing new recorded


def unsubscribe(
    session: PrivasiSession,
    principal: Principal,
    link: Link,
    *,
    lang: str,
    shown_text: str,
    method: str,
    source: str,
    user_agent: str | None,
    client_addr: str | None,
    center_url: str | None,
) -> Unsubscribed:
    """Withdraw the link's consent once; a repeated click records nothing new."""
    policy = policies.current_policy(session)
    purpose = consent_purpose(policy, link.purpose)
    subject = subjects.get_subject(session, link.subject_id)
    decision = consent.check(session, [subject.id], purpose.id)[0]
    if decision.reason in ("no_consent", "withdrawn", "unknown_subject"):
        return Unsubscribed(purpose, changed=False)
    proof = consent.Proof(
        policy_version=policies.require_current(session).number,
        text=shown_text,
        language=lang,
        channel="email",
        method=method,
        source=source,
        user_agent=user_agent,
        client_addr=client_addr,
    )
    event = consent.withdraw(session, principal, subject, purpose.id, proof)
    params = {
        "purpose_name": purpose.name.get(lang),
        "consequences": consent.withdrawal_consequences(policy, purpose.id, lang) or "",
        "center_url": center_url or "",
    }
    notify.enqueue(
        session,
        channel="email",
        template="unsubscribed",
        lang=lang,
        params=params,
        subject_id=subject.id,
        dedupe_key=f"unsubscribed:{event.id}",
    )
    return Unsubscribed(purpose, changed=True)
