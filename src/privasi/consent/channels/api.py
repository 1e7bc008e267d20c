"""Routes of the consent channels: the WhatsApp webhook and one-click unsubscribe links.

The webhook and the unsubscribe pages are public: Meta and mail clients call them without an API
key. The webhook trusts nothing before its signature is checked; an unsubscribe link is its own
proof (signed, bound to its organisation, expiring), as RFC 8058 intends.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse, Response

from privasi.consent.channels import unsubscribe as links
from privasi.consent.channels import whatsapp
from privasi.db import Database
from privasi.errors import NotFound, PrivasiError
from privasi.http import problems
from privasi.http.deps import Ctx, ctx_for, truncated_client
from privasi.http.idempotency import run_idempotent
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.web.common import db_of, settings_of
from privasi.web.i18n import request_language, t
from privasi.web.render import HtmlRoute, render

log = logging.getLogger("privasi.consent.channels")

router = APIRouter()
pages = APIRouter(include_in_schema=False, route_class=HtmlRoute)


def _org_id(db: Database, slug: str) -> str:
    with db.session(system=True) as system:
        return orgs.get_org_by_slug(system, slug).id


# --- WhatsApp ----------------------------------------------------------------------------------


@router.get("/integrations/whatsapp/{org_slug}", tags=["integrations"], include_in_schema=False)
def whatsapp_verify(org_slug: str, request: Request) -> Response:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
    params = request.query_params
    challenge = params.get("hub.challenge", "")
    db = db_of(request)
    try:
        org_id = _org_id(db, org_slug)
    except NotFound:
        return PlainTextResponse("forbidden", status_code=403)
    with db.session(org_id) as session:
        ok = whatsapp.verify_token_valid(session, params.get("hub.verify_token"))
    if params.get("hub.mode") != "subscribe" or not ok:
        return PlainTextResponse("forbidden", status_code=403)
    if not (0 < len(challenge) <= 200 and challenge.isprintable()):
        return PlainTextResponse("bad challenge", status_code=400)
    return PlainTextResponse(challenge)


@router.post("/integrations/whatsapp/{org_slug}", tags=["integrations"], include_in_schema=False)
async def whatsapp_webhook(org_slug: str, request: Request) -> Response:
    body = await request.body()
    signature = request.headers.get(whatsapp.SIGNATURE_HEADER)
    return await run_in_threadpool(_whatsapp_delivery, request, org_slug, body, signature)


def _whatsapp_delivery(request: Request, slug: str, body: bytes, signature: str | None) -> Response:
    db = db_of(request)
    try:
        org_id = _org_id(db, slug)
    except NotFound:
        # The same answer as a bad signature: the webhook does not tell which organisations exist.
        return _unsigned(request)
    with db.session(org_id) as session:
        secret = whatsapp.org_secret(session, whatsapp.APP_SECRET)
    if not secret or not whatsapp.signature_valid(str(secret), body, signature):
        return _unsigned(request)
    payload = whatsapp.parse_body(body)
    if payload is None:
        log.info("whatsapp delivery is not JSON; acknowledged")
        return JSONResponse({"received": True, "handled": {"unknown": 1}})
    principal = orgs.system_principal(org_id, "whatsapp-webhook")
    with db.session(org_id) as session:
        outcome = whatsapp.Handler(session, principal).handle(payload)
    log.info("whatsapp delivery handled", extra={"handled": dict(outcome.counts)})
    return JSONResponse({"received": True, "handled": dict(outcome.counts)})


def _unsigned(request: Request) -> Response:
    return problems.problem_response(
        request,
        401,
        "whatsapp-signature-invalid",
        "Missing or invalid X-Hub-Signature-256",
        "the delivery is not signed with this organisation's WhatsApp app secret",
    )


# --- unsubscribe links -------------------------------------------------------------------------


class LinkRequest(BaseModel):
    purpose: str = Field(min_length=1, max_length=100)
    ttl_days: int = Field(60, ge=1, le=366, description="how long the link works")


class LinkOut(BaseModel):
    url: str
    expires_at: str
    headers: dict[str, str] = Field(description="the two headers to put on the e-mail")


@router.post(
    "/api/v1/subjects/{subject_id}/unsubscribe-link",
    tags=["consent"],
    response_model=LinkOut,
    status_code=201,
    summary="A one-click unsubscribe link (RFC 8058) for one subject and purpose",
)
def create_unsubscribe_link(
    subject_id: str, body: LinkRequest, ctx: Ctx = ctx_for("consent.manage")
) -> Response:
    """The URL and the two headers to put on a marketing e-mail to this subject.

    Mail clients then offer an unsubscribe button that withdraws consent for ``purpose`` with one
    click, without the person signing in. The link carries ids only and expires.
    """

    def produce() -> tuple[int, Any]:
        org = orgs.get_org(ctx.session, ctx.org_id)
        url, expires_at = links.create_link(
            ctx.session,
            ctx.settings.resolved_secret_key(),
            ctx.settings.public_url,
            org.slug,
            subject_id,
            body.purpose,
            timedelta(days=body.ttl_days),
        )
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": links.POST_BODY,
        }
        return 201, {"url": url, "expires_at": expires_at.isoformat(), "headers": headers}

    return run_idempotent(ctx, {"subject_id": subject_id, **body.model_dump()}, produce)


def _link_page(
    request: Request, slug: str, token: str, *, post: bool, one_click: bool = False
) -> Response:
    db = db_of(request)
    settings = settings_of(request)
    lang, _ = request_language(request)
    try:
        org_id = _org_id(db, slug)
        link = links.read_token(settings.resolved_secret_key(), org_id, token)
    except links.LinkExpired:
        return _unsubscribe_page(request, slug, "expired", {}, 410)
    except (NotFound, PrivasiError):
        return _unsubscribe_page(request, slug, "invalid", {}, 404)
    with db.session(org_id) as session:
        org = orgs.get_org(session, org_id)
        try:
            policy = policies.current_policy(session)
            purpose = links.consent_purpose(policy, link.purpose)
        except PrivasiError:
            return _unsubscribe_page(request, slug, "invalid", {}, 404)
        context = {
            "org_name": org.name,
            "purpose_name": purpose.name.get(lang),
            "consequences": (purpose.withdrawal_consequences.get(lang))
            if purpose.withdrawal_consequences
            else "",
            "action": str(request.url.path),
        }
        if not post:
            return _unsubscribe_page(request, slug, "confirm", context, 200)
        shown = t("consent_channels.unsubscribe.confirm_title", lang, **context)
        if context["consequences"]:
            shown += "\n" + str(context["consequences"])
        try:
            with session.begin_nested():
                done = links.unsubscribe(
                    session,
                    orgs.system_principal(org_id, "unsubscribe-link"),
                    link,
                    lang=lang,
                    shown_text=shown,
                    method="one-click",
                    source="list-unsubscribe" if one_click else "unsubscribe-page",
                    user_agent=(request.headers.get("user-agent") or "")[:300] or None,
                    client_addr=truncated_client(request),
                    center_url=f"{settings.public_url}/privacy/{slug}/consent",
                )
        except PrivasiError:
            # The subject was erased or the purpose left the policy since the link was made.
            return _unsubscribe_page(request, slug, "invalid", {}, 404)
    return _unsubscribe_page(request, slug, "done" if done.changed else "already", context, 200)


def _unsubscribe_page(
    request: Request, slug: str, state: str, context: dict[str, Any], status: int
) -> Response:
    values = {"org_slug": slug, "state": state, "org_name": "", "purpose_name": "", "action": ""}
    values.update({"consequences": ""}, **context)
    response = render(request, "consent/unsubscribe.html", values, status_code=status)
    # Never cached: a shared cache must not answer a later click with an earlier state.
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.get("/consent/{org_slug}/unsubscribe/{token}")
def unsubscribe_page(org_slug: str, token: str, request: Request) -> Response:
    """The confirmation page a person sees when they click the link (it withdraws nothing)."""
    return _link_page(request, org_slug, token, post=False)


@pages.post("/consent/{org_slug}/unsubscribe/{token}")
async def unsubscribe_post(org_slug: str, token: str, request: Request) -> Response:
    """RFC 8058: a POST of ``List-Unsubscribe=One-Click`` (from a mail client or the page's button)."""
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click" and form.get("via") != "page"
    return await run_in_threadpool(
        _link_page, request, org_slug, token, post=True, one_click=one_click
    )


router.include_router(pages)
