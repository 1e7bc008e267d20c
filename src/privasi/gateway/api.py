"""Routes of the LLM privacy gateway.

``/v1/chat/completions`` and ``/v1/models`` speak the OpenAI API, so a business points its OpenAI
client's base URL at ``https://<privasi host>/v1`` with a privasi API key (scope ``gateway.use``).
Everything under ``/v1/`` answers errors in OpenAI's shape. ``/api/v1/gateway/...`` configures
the upstream and reads the pseudonymised chat logs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from privasi.db import PrivasiSession
from privasi.errors import PrivasiError, Unauthenticated
from privasi.gateway import catalogue, conversations, proxy, schemas, service, upstream
from privasi.gateway.upstream import GatewayError
from privasi.http.deps import (
    ORG_HEADER,
    Ctx,
    ctx_for,
    get_db,
    get_settings,
    resolve_principal,
    truncated_client,
)
from privasi.orgs import service as orgs
from privasi.orgs.principal import Principal

router = APIRouter(tags=["gateway"])
CONVERSATION_HEADER = "Privasi-Conversation"


def _error(exc: GatewayError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(exc.body, status_code=exc.status, headers=headers or None)


def _authenticate(request: Request) -> Principal:
    """The caller's principal (blocking: run it in a worker thread)."""
    db, settings = get_db(request), get_settings(request)
    try:
        principal = resolve_principal(request, db, settings)
        principal.require("gateway.use")
    except PrivasiError as exc:
        raise upstream.from_domain(exc) from None
    request.state.principal = principal
    return principal


def _key_principal(system: PrivasiSession, request: Request) -> Principal:
    """The principal of the call's bearer key, checked in the caller's system session (as
    ``resolve_principal`` checks it in a session of its own)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use 'Authorization: Bearer <API key>'")
        key = orgs.authenticate_api_key(system, token.strip())
        principal = orgs.key_principal(
            key,
            request_id=getattr(request.state, "request_id", None),
            client_addr=truncated_client(request),
        )
        principal = orgs.act_in(system, principal, request.headers.get(ORG_HEADER))
        principal.require("gateway.use")
    except PrivasiError as exc:
        raise upstream.from_domain(exc) from None
    request.state.principal = principal
    return principal


async def _principal(request: Request) -> Principal:
    return await asyncio.to_thread(_authenticate, request)


def _body(raw: bytes, limit: int) -> dict[str, Any]:
    if len(raw) > limit:
        raise GatewayError(
            413, f"gateway requests are limited to {limit} bytes", "request_too_large"
        )
    try:
        body = json.loads(raw)
    except ValueError:
        raise GatewayError(400, "the request body is not valid JSON", "invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "the request body is a JSON object", "invalid_request")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise GatewayError(400, "'messages' is a non-empty array", "invalid_request")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "'model' names the provider's model", "invalid_request")
    return body


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completion, pseudonymised")
async def chat_completions(request: Request) -> Response:
    settings = get_settings(request)
    token = request.headers.get(CONVERSATION_HEADER)
    raw = await request.body()

    def start() -> proxy.Call:
        # the key check, the body's checks and the call's set-up (the rate window) in one trip
        # to a worker thread and one transaction
        db = get_db(request)
        cookie = None if "authorization" in request.headers else _authenticate(request)
        with db.session(system=True) as session:
            principal = cookie or _key_principal(session, request)
            body = _body(raw, settings.gateway_max_request_bytes)
            call = proxy.Call(db, settings, request.app.state.vault, principal, body)
            call.resolve_in(session, token)
        return call

    try:
        call = await asyncio.to_thread(start)
        outgoing = await call.prepare(token)
        if call.stream:
            stream = await call.open_stream(outgoing)
            return StreamingResponse(
                stream,
                media_type="text/event-stream",
                headers={**call.conversation_header, "Cache-Control": "no-cache"},
            )
        answer = await call.complete(outgoing)
        return JSONResponse(answer, headers=call.conversation_header)
    except GatewayError as exc:
        return _error(exc)


@router.get("/v1/models", summary="The provider's models, passed through")
async def models(request: Request) -> Response:
    try:
        principal = await _principal(request)
        content = await catalogue.list_models(
            get_db(request), get_settings(request), request.app.state.vault, principal
        )
        return Response(content, media_type="application/json")
    except GatewayError as exc:
        return _error(exc)


@router.post("/api/v1/gateway/conversations/end", status_code=204, response_class=Response)
def end_conversation(body: schemas.ConversationEnd, ctx: Ctx = ctx_for("gateway.use")) -> Response:
    """Destroy a conversation's placeholder mapping and chat logs now (always 204: whether the id
    was known is not told)."""
    conversations.end_conversation(
        ctx.session, ctx.principal, body.conversation, vault=ctx.state("vault")
    )
    return Response(status_code=204)


# --- configuration and logs ---------------------------------------------------------------------


@router.get("/api/v1/gateway/upstream", response_model=schemas.UpstreamOut)
def get_upstream(ctx: Ctx = ctx_for("org.read")) -> object:
    return schemas.UpstreamOut.of(service.get_upstream(ctx.session))


@router.put("/api/v1/gateway/upstream", response_model=schemas.UpstreamOut)
def put_upstream(body: schemas.UpstreamIn, ctx: Ctx = ctx_for("secrets.manage")) -> object:
    row = service.configure(
        ctx.session,
        ctx.principal,
        base_url=body.base_url,
        api_key=body.api_key,
        recipient_id=body.recipient,
        rate_limit_per_minute=body.rate_limit_per_minute,
        vault=ctx.state("vault"),
    )
    return schemas.UpstreamOut.of(row)


@router.delete("/api/v1/gateway/upstream", status_code=204, response_class=Response)
def delete_upstream(ctx: Ctx = ctx_for("secrets.manage")) -> Response:
    service.remove_upstream(ctx.session, ctx.principal, vault=ctx.state("vault"))
    return Response(status_code=204)


@router.get("/api/v1/gateway/logs", response_model=schemas.ChatLogList)
def list_logs(
    conversation: str | None = Query(None, max_length=36),
    ctx: Ctx = ctx_for("audit.read"),
) -> object:
    logs = service.chat_logs(ctx.session, conversation)
    return schemas.ChatLogList(items=[schemas.ChatLogOut.model_validate(r) for r in logs])
