"""Signed download links for access and portability exports, and the requester's status URL.

A download link carries ids and an expiry only (never an address or a name) and an HMAC-SHA256
under a random key the organisation keeps in its secrets store (``rights_link_key``), so it
cannot be edited into another request's or another organisation's link, and deleting that secret
revokes every link at once. The export is built when it is downloaded, from what privasi holds
then: no copy of the data waits on disk, and once the subject is erased the link finds nothing
(404). When an access or portability request completes, the worker e-mails the subject a link
(``rights.send_export``) and notes it in the request's outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.http.deps import Ctx, ctx_for, truncated_client
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal, system_principal
from privasi.rights import export
from privasi.rights import service as rights
from privasi.rights.models import RightsRequest
from privasi.subjects import service as subjects
from privasi.vault import service as vault
from privasi.web.common import db_of
from privasi.web.render import apply_security_headers, render
from privasi.worker import reconciler

LINK_KEY = "rights_link_key"
DOWNLOAD_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=30)
DOWNLOADABLE = frozenset({"access", "portability"})

router = APIRouter()


class LinkInvalid(NotFound):
    type = "rights-link-invalid"
    title = "This link is not valid or has expired"


@dataclass(frozen=True)
class Link:
    kind: str  # what the link opens: "download"
    org_id: str
    request_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(session: PrivasiSession, *, create: bool) -> bytes | None:
    org_id = session.require_org()
    if vault.has_secret(session, LINK_KEY):
        return _unb64(vault.get_secret(session, LINK_KEY))
    if not create:
        return None
    vault.set_secret(
        session, system_principal(org_id, "rights-links"), LINK_KEY, _b64(secrets.token_bytes(32))
    )
    return _unb64(vault.get_secret(session, LINK_KEY))


def _mac(key: bytes, kind: str, body: str) -> str:
    return _b64(hmac.new(key, f"rights-{kind}\x00{body}".encode(), hashlib.sha256).digest()[:24])


def make_token(session: PrivasiSession, kind: str, request_id: str, expires_at: datetime) -> str:
    org_id = session.require_org()
    key = _key(session, create=True)
    assert key is not None
    data = {"o": org_id, "r": request_id, "e": int(expires_at.timestamp())}
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, kind, body)}"


def token_org(token: str) -> str:
    """The organisation a token claims, read before its MAC can be checked with that org's key."""
    body = token.partition(".")[0]
    try:
        org_id = json.loads(_unb64(body))["o"]
    except (ValueError, KeyError, TypeError):
        raise LinkInvalid() from None
    if not isinstance(org_id, str) or not 0 < len(org_id) <= 36:
        raise LinkInvalid()
    return org_id


def read_token(session: PrivasiSession, kind: str, token: str, now: datetime | None = None) -> Link:
    """The link a token stands for; ``LinkInvalid`` when forged, altered, foreign or expired."""
    body, _, mac = token.partition(".")
    key = _key(session, create=False)
    if not body or not mac or key is None or not hmac.compare_digest(_mac(key, kind, body), mac):
        raise LinkInvalid()
    try:
        data = json.loads(_unb64(body))
        org_id, request_id, expires = str(data["o"]), str(data["r"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        raise LinkInvalid() from None
    if org_id != session.require_org():
        raise LinkInvalid()
    now = now or utcnow()
    expires_at = datetime.fromtimestamp(expires, tz=now.tzinfo)
    if now >= expires_at:
        raise LinkInvalid()
    return Link(kind, org_id, request_id, expires_at)


def _public_url(session: PrivasiSession) -> str:
    # The vault is built from the deployment's settings by the app, the CLI and the worker alike,
    # so it is how a service without a request at hand learns the public base URL.
    settings = getattr(vault.vault_for(session), "_settings", None)
    base = getattr(settings, "public_url", None)
    return str(base).rstrip("/") if base else ""


def download_link(
    session: PrivasiSession,
    request: Any,
    ttl: timedelta = DOWNLOAD_TTL,
    *,
    base_url: str | None = None,
) -> str:
    """A signed URL that serves the request's export as a ZIP until ``ttl`` has passed."""
    if request.type not in DOWNLOADABLE:
        raise ValidationFailed("only access and portability requests have a download")
    if request.subject_id is None:
        raise ValidationFailed("the request is not matched to a data subject yet")
    if not timedelta(minutes=5) <= ttl <= MAX_TTL:
        raise ValidationFailed("a download link lives between 5 minutes and 30 days", field="ttl")
    expires_at = (utcnow() + ttl).replace(microsecond=0)
    token = make_token(session, "download", request.id, expires_at)
    base = _public_url(session) if base_url is None else base_url.rstrip("/")
    return f"{base}/downloads/{token}"


def status_url(
    session: PrivasiSession, org_slug: str, request: Any, *, base_url: str | None = None
) -> str:
    """Where the requester follows the request; no login needed, the secret link is the key."""
    base = _public_url(session) if base_url is None else base_url.rstrip("/")
    return f"{base}/privacy/{org_slug}/request/{rights.status_token(session, request)}"


def send_download_link(
    session: PrivasiSession,
    principal: Principal,
    request: Any,
    ttl: timedelta = DOWNLOAD_TTL,
    *,
    base_url: str | None = None,
) -> dict[str, Any]:
    """A new download link, e-mailed to the subject's address on record through the outbox.

    Called when an access or portability request is done; staff may call it again when a link
    has expired. Without an e-mail address on record the link is returned for staff to hand over
    another way, and ``sent`` says so.
    """
    if request.status in ("denied", "cancelled"):
        raise ValidationFailed(f"the request is {request.status}; there is nothing to deliver")
    if request.verified_at is None:
        raise ValidationFailed("the requester's identity is not verified yet")
    url = download_link(session, request, ttl, base_url=base_url)
    expires_at = read_token(session, "download", url.rsplit("/", 1)[1]).expires_at
    subject = subjects.get_subject(session, request.subject_id)
    sent = subjects.contact_for(session, subject, "email") is not None
    if sent:
        notify.enqueue(
            session,
            channel="email",
            template="rights_export_ready",
            lang=request.lang or "id",
            params={
                "number": rights.display_number(request),
                "url": url,
                "expires": expires_at.isoformat(),
            },
            subject_id=subject.id,
        )
    audit.record(
        session,
        principal,
        "export.sent" if sent else "export.link_created",
        subject_id=subject.id,
        purpose="rights_request",
        details={"request_id": request.id, "expires_at": int(expires_at.timestamp())},
    )
    return {"url": url, "expires_at": expires_at, "sent": sent}


# --- delivery when a request is done ------------------------------------------------------------

SEND_KIND = "rights.send_export"
# Completed requests looked at by each tick; older ones were handled when they completed.
RECENT = timedelta(days=7)


@reconciler("rights-export-links")
def _find_completed(system: PrivasiSession) -> int:
    """A job per access or portability request completed lately whose link is not yet sent."""
    rows = system.execute(
        select(RightsRequest.id, RightsRequest.org_id).where(
            RightsRequest.type.in_(sorted(DOWNLOADABLE)),
            RightsRequest.status == "completed",
            RightsRequest.subject_id.is_not(None),
            RightsRequest.completed_at >= utcnow() - RECENT,
        )
    ).all()
    keys = {f"{SEND_KIND}:{request_id}": (request_id, org_id) for request_id, org_id in rows}
    known: set[str] = set()
    names = sorted(keys)
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        known.update(
            k for k in system.scalars(select(Job.dedupe_key).where(Job.dedupe_key.in_(chunk))) if k
        )
    for key in names:
        if key not in known:
            request_id, org_id = keys[key]
            jobs.enqueue(
                system, SEND_KIND, {"request_id": request_id}, org_id=org_id, dedupe_key=key
            )
    return len(set(names) - known)


@jobs.handler(SEND_KIND)
def _send_export(db: Database, job: Job) -> dict[str, Any]:
    assert job.org_id is not None
    with db.session(job.org_id) as session:
        request = rights.get_request(session, str(job.payload["request_id"]))
        outcome = dict(request.outcome or {})
        if outcome.get("export_link") or request.subject_id is None:
            return {"sent": 0}
        if vault.vault_for(session).is_shredded(job.org_id, request.subject_id):
            return {"sent": 0}
        principal = system_principal(job.org_id, "rights-export")
        sent = send_download_link(session, principal, request)
        # The evidence record then says the copy was delivered, and until when the link worked.
        outcome["export_link"] = {
            "sent": sent["sent"],
            "expires_at": sent["expires_at"].isoformat(),
        }
        request.outcome = outcome
        session.flush()
        return {"sent": int(sent["sent"])}


class LinkIn(BaseModel):
    ttl_days: int = Field(7, ge=1, le=30, description="how long the link works")


class LinkOut(BaseModel):
    url: str
    expires_at: datetime
    sent: bool = Field(description="e-mailed to the subject's address on record")


@router.post(
    "/api/v1/requests/{request_id}/download-link",
    response_model=LinkOut,
    tags=["rights requests"],
)
def create_download_link(
    request_id: str, body: LinkIn, ctx: Ctx = ctx_for("requests.manage")
) -> Any:
    """E-mail the subject a new signed link to the export of an access or portability request.
    Needs ``subjects.read`` too: the answer holds the link, which opens the whole export."""
    ctx.principal.require("subjects.read")
    request = rights.get_request(ctx.session, request_id)
    return send_download_link(
        ctx.session,
        ctx.principal,
        request,
        timedelta(days=body.ttl_days),
        base_url=ctx.settings.public_url,
    )


def export_for_download(db: Database, token: str, client_addr: str | None) -> tuple[bytes, str]:
    """The ZIP a download token stands for and its file name; each download is audited."""
    org_id = token_org(token)
    with db.session(system=True) as system:
        try:
            orgs.get_org(system, org_id)
        except NotFound:
            raise LinkInvalid() from None
    with db.session(org_id) as session:
        link = read_token(session, "download", token)
        try:
            request = rights.get_request(session, link.request_id)
        except NotFound:
            raise LinkInvalid() from None
        subject_id = request.subject_id
        if (
            request.type not in DOWNLOADABLE
            or subject_id is None
            or vault.vault_for(session).is_shredded(org_id, subject_id)
        ):
            raise LinkInvalid()
        data = export.build_export(session, request, request.lang or "id")
        principal = Principal(
            org_id, "subject", subject_id, frozenset(), org_id, client_addr=client_addr
        )
        audit.record(
            session,
            principal,
            "export.downloaded",
            subject_id=subject_id,
            purpose="rights_request",
            details={"request_id": request.id, "bytes": len(data)},
        )
        return data, f"{export.file_stem(request)}.zip"


@router.get("/downloads/{token}", include_in_schema=False)
async def download(token: str, request: Request) -> Response:
    db = db_of(request)
    try:
        data, name = await run_in_threadpool(
            export_for_download, db, token[:600], truncated_client(request)
        )
    except LinkInvalid:
        context = {
            "org_slug": "",
            "title_key": "rights_export.gone.title",
            "body_key": "rights_export.gone.body",
        }
        gone = render(request, "rights/message.html", context, status_code=404)
        gone.headers["Cache-Control"] = "no-store"
        return gone
    response = Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
    return apply_security_headers(response)
