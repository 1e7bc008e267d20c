"""API keys: shown once, stored as a hash, scoped to one organisation and a set of permissions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from privasi.db import PrivasiSession, utcnow
from privasi.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from privasi.orgs.models import (
    ApiKey,
)
from privasi.orgs.permissions import ALL_PERMISSIONS
from privasi.orgs.principal import Principal, record_change

API_KEY_PREFIX = "pvk"


# --- API keys ----------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    # API key secrets are 256-bit random values, so a plain SHA-256 is as strong as a slow hash here
    # and keeps authentication cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str], limit: frozenset[str] | None = None) -> list[str]:
    scopes = sorted(set(scopes))
    if not scopes:
        raise ValidationFailed("an API key needs at least one scope", field="scopes")
    unknown = [s for s in scopes if s not in ALL_PERMISSIONS]
    if unknown:
        raise ValidationFailed(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    if limit is not None and (beyond := [s for s in scopes if s not in limit]):
        raise Forbidden(f"you cannot grant scopes you do not hold: {', '.join(beyond)}")
    return scopes


def create_api_key(
    session: PrivasiSession,
    *,
    name: str,
    scopes: Iterable[str],
    created_by: str | None = None,
    limit: frozenset[str] | None = None,
    by: Principal | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the returned token is shown once and never stored."""
    if by is not None:
        by.require_not_hosted("API keys")
    if not name.strip():
        raise ValidationFailed("name must not be empty", field="name")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id,
        secret_hash=_hash_secret(secret),
        name=name.strip(),
        scopes=validate_scopes(scopes, limit),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    record_change(session, by, "api_key.created", key_id=key_id, scopes=key.scopes)
    return key, f"{API_KEY_PREFIX}_{key_id}_{secret}"


def list_api_keys(session: PrivasiSession) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def get_api_key(session: PrivasiSession, id_or_key_id: str) -> ApiKey:
    key = session.scalar(
        select(ApiKey).where((ApiKey.id == id_or_key_id) | (ApiKey.key_id == id_or_key_id))
    )
    if key is None:
        raise NotFound("API key not found")
    return key


def revoke_api_key(session: PrivasiSession, key: ApiKey, by: Principal | None = None) -> ApiKey:
    if by is not None:
        by.require_not_hosted("API keys")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        record_change(session, by, "api_key.revoked", key_id=key.key_id)
    return key


def authenticate_api_key(system: PrivasiSession, token: str) -> ApiKey:
    """Find the active key for a bearer token (system session: the organisation is not known yet)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise Unauthenticated("invalid API key")
    key = system.scalar(select(ApiKey).where(ApiKey.key_id == parts[1]))
    expected = key.secret_hash if key is not None else _hash_secret("x")
    if not hmac.compare_digest(expected, _hash_secret(parts[2])) or key is None:
        raise Unauthenticated("invalid API key")
    if key.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    now = utcnow()
    # Touch at most once a minute so reads do not turn every request into a write.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return key
