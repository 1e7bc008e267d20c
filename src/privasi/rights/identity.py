"""Proving the requester is the subject: a code to an address on record, a token signed by the
business's own logged-in session, or a staff check with a note.

The session token lets a business whose customer is already logged in skip the code: its server
signs ``{"sub": <identifier>, "kind": <identifier kind>, "exp": <unix time>}`` with the
organisation's secret ``rights_session_secret`` (HMAC-SHA256), as
``base64url(payload) + "." + base64url(mac)``, without padding. See ``sign_session_token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from privasi.consent import verification
from privasi.db import PrivasiSession, utcnow
from privasi.errors import Conflict, NotFound, ValidationFailed
from privasi.notify import service as notify
from privasi.orgs.service import Principal
from privasi.rights import service as rights
from privasi.rights.models import RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.service import get_secret, has_secret

PURPOSE = "rights_request"
SESSION_SECRET = "rights_session_secret"
MAX_TOKEN_TTL = 3600  # a token older than an hour is refused whatever its exp says
CODE_METHOD = {"email": "email_code", "whatsapp": "whatsapp_code", "phone": "phone_code"}


class TokenInvalid(ValidationFailed):
    type = "rights-token-invalid"
    title = "The session token is not valid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_session_token(secret: str, kind: str, value: str, expires_at: int) -> str:
    """What the business's server computes (shown here for its developers and the tests)."""
    payload = _b64(
        json.dumps({"kind": kind, "sub": value, "exp": expires_at}, separators=(",", ":")).encode()
    )
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def _read_token(secret: str, token: str, now: float) -> dict[str, Any]:
    payload, sep, mac = (token or "").strip().partition(".")
    if not sep or len(token) > 4000:
        raise TokenInvalid("the token is not in the form payload.signature")
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        data = json.loads(_unb64(payload))
    except ValueError:
        raise TokenInvalid("the token cannot be decoded") from None
    if not hmac.compare_digest(expected, given):
        raise TokenInvalid("the token's signature does not match")
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        raise TokenInvalid("the token has no expiry")
    if data["exp"] <= now or data["exp"] > now + MAX_TOKEN_TTL:
        raise TokenInvalid("the token has expired or lives too long")
    if not isinstance(data.get("kind"), str) or not isinstance(data.get("sub"), str):
        raise TokenInvalid("the token names no identifier")
    return data


def verify_session_token(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    token: str,
    now: float | None = None,
) -> RightsRequest:
    """Accept a token signed by the business's session for this request's subject."""
    if not has_secret(session, SESSION_SECRET):
        raise Conflict(
            f"store the secret '{SESSION_SECRET}' first (privasi secrets set) to accept tokens"
        )
    data = _read_token(get_secret(session, SESSION_SECRET), token, now or time.time())
    subject = subjects.find_by_identifier(session, data["kind"], data["sub"])
    if subject is None:
        raise TokenInvalid("the token names nobody on record")
    if request.subject_id is None and request.requester_subject_id is None:
        rights.match_subject(session, principal, request, subject.id)
    elif subject.id != rights.requester_id(request):
        raise TokenInvalid("the token names someone other than the requester")
    return rights.mark_verified(session, principal, request, "account_login")


def send_code(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    channel: str = "email",
    client_network: str | None = None,
) -> verification.Issued:
    """A 6-digit code to the address on record; the request waits for the requester."""
    if request.status not in ("received", "verifying", "awaiting_requester"):
        raise Conflict(f"the request is {request.status}; no code is needed")
    if request.subject_id is None:
        raise Conflict("match the request to a subject first: a code goes to an address on record")
    if channel not in CODE_METHOD:
        raise ValidationFailed("channel is email, whatsapp or phone", field="channel")
    # A guardian proves who they are with their own address, not the child's.
    subject = subjects.get_subject(session, rights.requester_id(request) or request.subject_id)
    address = subjects.contact_for(session, subject, channel)
    if address is None:
        raise Conflict(f"no {channel} address is on record for the requester")
    issued = verification.issue(
        session,
        purpose=PURPOSE,
        subject_id=subject.id,
        channel=channel,
        client_network=client_network,
    )
    notify.enqueue(
        session,
        channel="whatsapp" if channel in ("whatsapp", "phone") else "email",
        template="verification_code",
        lang=request.lang,
        params={"code": issued.code, "minutes": int(verification.CODE_TTL.total_seconds() // 60)},
        subject_id=subject.id,
    )
    request.challenge_id = issued.challenge_id
    request.status = "verifying"
    request.waiting_since = request.waiting_since or utcnow()
    session.flush()
    rights.audit_step(session, principal, request, "identity.code_sent", channel=channel)
    return issued


def check_code(
    session: PrivasiSession, principal: Principal, request: RightsRequest, code: str
) -> RightsRequest:
    """The requester's code; a wrong one counts as an attempt (the caller commits even then)."""
    if request.challenge_id is None:
        raise NotFound("no code was sent for this request")
    challenge = verification.verify(session, request.challenge_id, code, purpose=PURPOSE)
    if challenge.subject_id != rights.requester_id(request):
        raise TokenInvalid("the code was sent for someone else")
    return rights.mark_verified(
        session, principal, request, CODE_METHOD.get(challenge.channel, "email_code")
    )
