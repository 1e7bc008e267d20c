"""Routes of the cookie banner: the script, the choice endpoint, and ``/.well-known/gpc.json``.

All three are public: the script runs on the business's own website for every visitor. The
choice endpoint takes a plain-text JSON body so browsers send it without a CORS preflight, answers
any origin (no credentials are involved: the random visitor id is the only key), and records
consent under the organisation named in the path only.
"""

from __future__ import annotations

import hashlib
import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from privasi.consent.banner import service as banner
from privasi.consent.purposes import policy_in_effect
from privasi.db import Database
from privasi.errors import NotFound, PrivasiError
from privasi.http import problems
from privasi.http.deps import truncated_client
from privasi.orgs import service as orgs
from privasi.web.common import db_of, settings_of

log = logging.getLogger("privasi.consent.banner")

router = APIRouter(include_in_schema=False)

JS = "application/javascript; charset=utf-8"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}
# GPC support is declared for this host (the privacy center and the banner it serves).
GPC_DECLARATION = {"gpc": True, "lastUpdate": "2026-11-22"}


def _gpc(request: Request) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


def _org_id(db: Database, slug: str) -> str:
    with db.session(system=True) as system:
        return orgs.get_org_by_slug(system, slug).id


def _base_url(request: Request) -> str:
    settings = settings_of(request)
    # The banner calls back the address it was loaded from unless a public URL is configured.
    return (settings.base_url or str(request.base_url)).rstrip("/")


@router.get("/consent/{org_slug}/banner.js")
def banner_js(org_slug: str, request: Request) -> Response:
    db = db_of(request)
    try:
        org_id = _org_id(db, org_slug)
        with db.session(org_id) as session:
            policy, _ = policy_in_effect(session)
    except NotFound:
        body = "/* privasi: no published policy for this organisation; no banner shown */\n"
        return Response(body, status_code=404, media_type=JS)
    gpc = _gpc(request)
    script = banner.script(
        banner.config(policy, org_slug=org_slug, base_url=_base_url(request), gpc=gpc)
    )
    # Revalidated on every page view (a 304 when unchanged), so a new policy version reaches
    # visitors at once: the banner must ask again as soon as the cookie categories change.
    etag = '"' + hashlib.sha256(script.encode()).hexdigest()[:24] + '"'
    headers = {
        "Cache-Control": "public, no-cache",
        "ETag": etag,
        "Vary": "Sec-GPC",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(script, media_type=JS, headers=headers)


@router.options("/consent/{org_slug}/choice")
def choice_preflight(org_slug: str) -> Response:
    return Response(status_code=204, headers=CORS)


@router.post("/consent/{org_slug}/choice")
async def record_choice(org_slug: str, request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(_record, request, org_slug, body)


def _record(request: Request, slug: str, body: bytes) -> Response:
    db = db_of(request)
    try:
        choice = banner.parse_choice(body, gpc_header=_gpc(request))
        org_id = _org_id(db, slug)
        principal = orgs.system_principal(org_id, "cookie-banner")
        with db.session(org_id) as session:
            policy, version = policy_in_effect(session)
            allowed = banner.record(
                session,
                principal,
                policy,
                version,
                choice,
                user_agent=(request.headers.get("user-agent") or "")[:300] or None,
                client_addr=truncated_client(request),
            )
    except PrivasiError as exc:
        headers = dict(CORS)
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        return problems.problem_response(
            request, exc.status, exc.type, exc.title, exc.detail, exc.extra, headers=headers
        )
    return JSONResponse({"recorded": True, "categories": allowed}, headers=CORS)


@router.get("/.well-known/gpc.json")
def gpc_json() -> Response:
    return JSONResponse(GPC_DECLARATION, headers={"Cache-Control": "public, max-age=86400"})
