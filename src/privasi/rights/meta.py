"""Meta's data-deletion callback, and unlinking a social login from a data subject.

When someone removes a business's app in their Facebook settings, Meta POSTs a ``signed_request``
to ``/integrations/meta/{org_slug}/data-deletion``: ``<signature>.<payload>``, both base64url
without padding, the signature an HMAC-SHA256 of the encoded payload under the app secret
(stored per organisation as ``meta_app_secret``). Nothing in the payload is used before that
check, the ``algorithm`` it names and the age of ``issued_at``. The person's app-scoped
``user_id`` then becomes an erasure request (identifier kind ``meta_asid``), answered with the
status page's URL and the request number as the confirmation code, as Meta requires. Meta may
call again for the same person: an open erasure request is answered again, not duplicated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound, PrivasiError, ValidationFailed
from privasi.http.deps import Ctx, ctx_for, truncated_client
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.rights import downloads
from privasi.rights import service as rights
from privasi.rights.models import OPEN_STATUSES, RightsRequest
from privasi.subjects import service as subjects
from privasi.subjects.identifiers import IDENTIFIER_KINDS
from privasi.vault import service as vault

SECRET_NAME = "meta_app_secret"
ALGORITHM = "HMAC-SHA256"
MAX_SIGNED_REQUEST = 8192
# Payload times a few minutes ahead of our clock are clock skew, not a forgery.
FUTURE_SKEW_SECONDS = 300
# Social logins and the identifier kinds each leaves on a subject.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "meta": ("meta_asid",),
    "facebook": ("meta_asid",),
    "google": ("google",),
}

router = APIRouter(tags=["integrations"])


class SignedRequestInvalid(PrivasiError):
    status = 400
    type = "meta-signed-request-invalid"
    title = "The signed_request is not valid"


class NotConfigured(NotFound):
    type = "meta-not-configured"
    title = "This organisation has not configured its Meta app"


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise SignedRequestInvalid("signed_request parts are base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SignedRequestInvalid("signed_request parts are base64url without padding") from None


def parse_signed_request(
    signed_request: str, app_secret: str, *, max_age_seconds: int, now: datetime | None = None
) -> dict[str, Any]:
    """The payload of a valid ``signed_request``; ``SignedRequestInvalid`` for anything else."""
    if not isinstance(signed_request, str) or not 0 < len(signed_request) <= MAX_SIGNED_REQUEST:
        raise SignedRequestInvalid("signed_request is missing or too long")
    encoded_sig, dot, payload = signed_request.strip().partition(".")
    if not dot or not payload:
        raise SignedRequestInvalid("signed_request is '<signature>.<payload>'")
    signature = _unb64(encoded_sig)
    expected = hmac.new(app_secret.encode(), payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise SignedRequestInvalid("the signature does not match the app secret")
    try:
        data = json.loads(_unb64(payload))
    except (UnicodeDecodeError, ValueError):
        raise SignedRequestInvalid("the payload is not JSON") from None
    if not isinstance(data, dict):
        raise SignedRequestInvalid("the payload is not a JSON object")
    if str(data.get("algorithm", "")).upper() != ALGORITHM:
        raise SignedRequestInvalid(f"the algorithm must be {ALGORITHM}")
    issued_at = data.get("issued_at")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise SignedRequestInvalid("issued_at is missing")
    age = (now or utcnow()).timestamp() - issued_at
    if age > max_age_seconds:
        raise SignedRequestInvalid("the signed_request has expired")
    if age < -FUTURE_SKEW_SECONDS:
        raise SignedRequestInvalid("issued_at is in the future")
    user_id = data.get("user_id")
    if not isinstance(user_id, str | int) or isinstance(user_id, bool):
        raise SignedRequestInvalid("user_id is missing")
    data["user_id"] = str(user_id)
    return data


def _open_erasure(session: PrivasiSession, subject_id: str) -> Any | None:
    return session.scalar(
        select(RightsRequest)
        .where(
            RightsRequest.subject_id == subject_id,
            RightsRequest.type == "erasure",
            RightsRequest.status.in_(sorted(OPEN_STATUSES)),
        )
        .order_by(RightsRequest.received_at)
        .limit(1)
    )


def request_deletion(
    session: PrivasiSession, principal: Principal, user_id: str, *, lang: str = "id"
) -> Any:
    """The erasure request for Meta's ``user_id``: an open one, else a new verified one."""
    try:
        subject = subjects.find_by_identifier(session, "meta_asid", user_id)
    except ValidationFailed:
        raise SignedRequestInvalid("user_id is not an app-scoped id") from None
    if subject is not None:
        found = _open_erasure(session, subject.id)
        if found is not None:
            return found
    request = rights.submit(
        session,
        principal,
        type="erasure",
        channel="meta",
        identifiers={"meta_asid": user_id},
        subject_id=subject.id if subject is not None else None,
        requester_kind="subject",
        requester_note="Meta data deletion callback",
        lang=lang,
    )
    if request.subject_id is None:
        # Nobody is known by this id: the request stays recorded for staff to match or to answer
        # that nothing is held, as for any other unmatched request.
        return request
    # Meta signed the request for the person signed in to Facebook: that is the identity check.
    return rights.mark_verified(session, principal, request, "meta_signed_request")


def handle_callback(
    db: Database,
    org_slug: str,
    signed_request: str,
    *,
    max_age_seconds: int,
    base_url: str,
    client_addr: str | None = None,
) -> dict[str, str]:
    with db.session(system=True) as system:
        org = orgs.get_org_by_slug(system, org_slug)
    with db.session(org.id) as session:
        if not vault.has_secret(session, SECRET_NAME):
            raise NotConfigured()
        secret = vault.get_secret(session, SECRET_NAME)
        data = parse_signed_request(signed_request, secret, max_age_seconds=max_age_seconds)
        principal = Principal(
            org.id,
            "system",
            "meta-data-deletion",
            orgs.system_principal(org.id).permissions,
            org.id,
            client_addr=client_addr,
        )
        request = request_deletion(session, principal, data["user_id"])
        url = downloads.status_url(session, org.slug, request, base_url=base_url)
        return {"url": url, "confirmation_code": rights.display_number(request)}


@router.post("/integrations/meta/{org_slug}/data-deletion")
async def data_deletion(org_slug: str, request: Request) -> JSONResponse:
    """Meta's data-deletion callback (form field ``signed_request``)."""
    form = await request.form()
    signed = form.get("signed_request")
    settings = request.app.state.settings
    answer = await run_in_threadpool(
        handle_callback,
        request.app.state.db,
        org_slug,
        signed if isinstance(signed, str) else "",
        max_age_seconds=settings.meta_signed_request_max_age_seconds,
        base_url=settings.public_url,
        client_addr=truncated_client(request),
    )
    return JSONResponse(answer)


# --- unlinking a social login ----------------------------------------------------------------


def unlink_social_login(
    session: PrivasiSession, principal: Principal, subject_id: str, provider: str
) -> dict[str, Any]:
    """Remove the provider's identifiers from the subject, so that login no longer finds them.

    The identifier is the only integration data privasi keeps for a social login; consents and
    requests stay with the subject, who remains known by their other identifiers.
    """
    subject = subjects.get_subject(session, subject_id)
    kinds = tuple(k for k in PROVIDERS.get(provider, ()) if k in IDENTIFIER_KINDS)
    if not kinds:
        supported = sorted(p for p, ks in PROVIDERS.items() if set(ks) & set(IDENTIFIER_KINDS))
        raise ValidationFailed(
            f"unknown social login '{provider}'; use one of {', '.join(supported)}",
            field="provider",
        )
    removed = subjects.remove_identifiers(session, principal, subject, kinds)
    audit.record(
        session,
        principal,
        "subject.social_login_unlinked",
        subject_id=subject.id,
        details={"provider": provider, "identifier_kinds": list(kinds), "removed": removed},
    )
    return {"subject_id": subject.id, "provider": provider, "removed": removed}


@router.delete("/api/v1/subjects/{subject_id}/social-logins/{provider}")
def unlink(subject_id: str, provider: str, ctx: Ctx = ctx_for("subjects.manage")) -> Any:
    """Unlink a social login (``meta``/``facebook``) from a subject and delete its identifier."""
    return unlink_social_login(ctx.session, ctx.principal, subject_id, provider)
