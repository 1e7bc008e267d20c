"""The chain's arithmetic: canonical form of an event, its HMAC, bulk digests, and the guard that
keeps personal values out of event details (the chain is never deleted, so it must hold none)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from phonenumbers import Leniency

GENESIS = "0" * 64
MAX_DETAILS_BYTES = 4096
MAX_DEPTH = 4
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)


class PersonalDataInAudit(ValueError):
    """A caller tried to put something that looks like personal data into an audit event."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(
    *,
    org_id: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_id: str | None,
    purpose: str | None,
    client_addr: str | None,
    request_id: str | None,
    details: dict[str, Any],
    count: int | None,
    subjects_digest: str | None,
    key_id: str,
    prev_mac: str,
) -> bytes:
    body = {
        "v": 1,
        "org": org_id,
        "seq": seq,
        "at": _iso(occurred_at),
        "actor": actor,
        "action": action,
        "subject": subject_id,
        "purpose": purpose,
        "client": client_addr,
        "request": request_id,
        "details": details,
        "count": count,
        "digest": subjects_digest,
        "key": key_id,
        "prev": prev_mac,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def event_mac(key: bytes, event: Any) -> str:
    """The MAC of an ``AuditEvent`` row (or anything with the same attributes)."""
    return mac(
        key,
        canonical(
            org_id=event.org_id,
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            subject_id=event.subject_id,
            purpose=event.purpose,
            client_addr=event.client_addr,
            request_id=event.request_id,
            details=event.details or {},
            count=event.count,
            subjects_digest=event.subjects_digest,
            key_id=event.key_id,
            prev_mac=event.prev_mac,
        ),
    )


def checkpoint_signature(key: bytes, org_id: str, seq: int, event_mac_hex: str) -> str:
    message = json.dumps(["privasi-audit-checkpoint-v1", org_id, seq, event_mac_hex]).encode()
    return mac(key, message)


def subjects_digest(subject_ids: Iterable[str]) -> tuple[int, str]:
    """Count and SHA-256 of a bulk call's distinct subject ids (sorted, newline-joined), so anyone
    holding the list can later show it is the one the event covered."""
    unique = sorted(set(subject_ids))
    return len(unique), hashlib.sha256("\n".join(unique).encode()).hexdigest()


def _is_timestamp(text: str) -> bool:
    """An ISO date-time (with a time part) names a moment, not a person; its digit runs can look
    like phone numbers to a matcher. Plain dates stay checked: a birth date is personal data."""
    if "T" not in text or len(text) > 40:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def looks_personal(text: str) -> bool:
    if UUID_RE.match(text) or _is_timestamp(text):
        return False
    if EMAIL_RE.search(text):
        return True
    return any(True for _ in phonenumbers.PhoneNumberMatcher(text, "ID", leniency=Leniency.VALID))


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PersonalDataInAudit(f"audit details nest deeper than {MAX_DEPTH} levels at '{path}'")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PersonalDataInAudit(f"audit detail keys must be text at '{path}'")
            _check(key, f"{path}.{key}" if path else key, depth + 1)
            _check(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, str):
        if looks_personal(value):
            raise PersonalDataInAudit(
                f"audit detail '{path}' looks like an e-mail address or phone number; "
                "record field names and ids, never values"
            )
    elif value is not None and not isinstance(value, bool | int | float):
        raise PersonalDataInAudit(f"audit detail '{path}' is not a JSON value")


def clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise PersonalDataInAudit("audit details must be a mapping")
    _check(details, "", 0)
    size = len(json.dumps(details, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_DETAILS_BYTES:
        raise PersonalDataInAudit(f"audit details are {size} bytes, over {MAX_DETAILS_BYTES}")
    # A JSON round trip stores exactly what the MAC was computed over (tuples become lists ...).
    return json.loads(json.dumps(details))
