"""``Idempotency-Key`` for creating writes, as one reusable piece.

The stored response is written in the same transaction as the write itself, so a retried request
either finds the finished answer or runs as if it were the first. The same key with a different body
is refused. Records are kept for ``RETENTION`` and then removed by the worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from privasi.db import PrivasiSession, utcnow
from privasi.errors import Conflict, ValidationFailed
from privasi.http.deps import Ctx
from privasi.http.models import IdempotencyRecord

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)


class IdempotencyKeyReused(Conflict):
    type = "idempotency-key-reused"
    title = "Idempotency-Key already used for a different request"


def _fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run_idempotent(
    ctx: Ctx,
    body: Any,
    produce: Callable[[], tuple[int, Any]],
    *,
    shown_once: tuple[str, ...] = (),
    on_replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Run ``produce`` (returning status and payload) at most once per Idempotency-Key.

    ``shown_once`` names response fields that hold a secret shown only once (a new API key, a
    one-time password): they are not stored, so a replay answers without them, unless
    ``on_replay`` gives the stored answer back its fields from where they are kept sealed.
    """
    key = ctx.request.headers.get(HEADER)
    if key is None:
        status, payload = produce()
        return JSONResponse(jsonable_encoder(payload), status_code=status)
    if not (1 <= len(key) <= 200) or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1-200 printable characters", field=HEADER)
    fingerprint = _fingerprint(ctx.request.method, ctx.request.url.path, body)
    session = ctx.session
    existing = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        replayed = existing.response
        if on_replay is not None and isinstance(replayed, dict):
            replayed = on_replay(dict(replayed))
        return JSONResponse(
            replayed,
            status_code=existing.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    status, payload = produce()
    encoded = jsonable_encoder(payload)
    stored = encoded
    if shown_once and isinstance(encoded, dict):
        stored = {k: v for k, v in encoded.items() if k not in shown_once}
    session.add(
        IdempotencyRecord(key=key, fingerprint=fingerprint, status_code=status, response=stored)
    )
    try:
        session.flush()
    except IntegrityError as exc:
        # A concurrent request with the same key won; this one is rolled back whole.
        raise Conflict("a request with this Idempotency-Key is already being processed") from exc
    return JSONResponse(encoded, status_code=status)


def purge_expired(system: PrivasiSession) -> int:
    cutoff = utcnow() - RETENTION
    result = system.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
