"""The callback route of the ``http`` connector: the business's endpoint POSTs a task's result.

Public (the endpoint has no API key): nothing is trusted before the signature, made with the
secret the system's ``credential`` names, is checked. An unknown organisation, system or task gets
the same answer as a bad signature, so the route does not tell who or what exists.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from privasi.connectors import http as connector
from privasi.errors import NotFound
from privasi.http import problems
from privasi.notify import signing
from privasi.orgs import service as orgs
from privasi.vault.secrets import get_secret
from privasi.web.common import db_of

log = logging.getLogger("privasi.connectors.http")
router = APIRouter()
MAX_BODY = 20_000_000


@router.post(connector.CALLBACK_PATH, tags=["integrations"], include_in_schema=False)
async def callback(org_slug: str, system_id: str, request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(
        _callback,
        request,
        org_slug,
        system_id,
        body,
        request.headers.get(signing.TIMESTAMP_HEADER),
        request.headers.get(signing.SIGNATURE_HEADER),
    )


def _callback(
    request: Request,
    slug: str,
    system_id: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
) -> Response:
    db = db_of(request)
    with db.session(system=True) as system:
        org = orgs.find_org_by_slug(system, slug)
    if org is None or len(body) > MAX_BODY:
        return _refused(request)
    with db.session(org.id) as session:
        try:
            secret = get_secret(session, connector.system_of(session, system_id).credential or "")
        except (NotFound, connector.ConnectorError):
            return _refused(request)
    if not signing.verify(secret, body, timestamp, signature):
        log.warning("connector callback refused: bad signature", extra={"system": system_id})
        return _refused(request)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return problems.problem_response(
            request,
            400,
            "connector-callback-invalid",
            "Invalid callback",
            "the body is not a JSON object",
        )
    try:
        with db.session(org.id) as session:
            answer = connector.take_callback(session, system_id, payload)
    except LookupError:
        return _refused(request)
    except connector.ConnectorError as exc:
        return problems.problem_response(
            request, 400, "connector-callback-invalid", "Invalid callback", str(exc)
        )
    log.info("connector callback taken", extra={"system": system_id, "status": answer["status"]})
    return JSONResponse(answer)


def _refused(request: Request) -> Response:
    return problems.problem_response(
        request,
        401,
        "connector-signature-invalid",
        "Missing or invalid Privasi-Signature",
        "the callback is not signed with this system's credential",
    )
