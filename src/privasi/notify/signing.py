"""Signatures of outgoing webhooks, and the check a receiver runs (also usable from Python).

The signature is HMAC-SHA256, under the organisation's ``webhook_signing_secret``, over the
timestamp, a dot and the raw body: ``HMAC(secret, f"{timestamp}." + body)``. Signing the timestamp
with the body lets a receiver refuse a captured request replayed later.

Headers: ``Privasi-Timestamp: <unix seconds>`` and ``Privasi-Signature: v1=<hex digest>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Privasi-Signature"
TIMESTAMP_HEADER = "Privasi-Timestamp"
MESSAGE_ID_HEADER = "Privasi-Message-Id"
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between signing and receiving


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is ours for this body and the timestamp is recent enough."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    moment = int(timestamp)
    if abs((now if now is not None else time.time()) - moment) > tolerance:
        return False
    expected = sign(secret, moment, body)
    # Several comma-separated signatures are accepted while a secret is being changed.
    return any(hmac.compare_digest(expected, part.strip()) for part in signature.split(","))
