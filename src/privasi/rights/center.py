"""The privacy center's request form: ``/privacy/{org_slug}/request``, and the status page.

A person picks what they want (a copy, a correction, erasure ...), names the e-mail address or
phone number the organisation has on record and gets a 6-digit code there
(``consent.verification``). The request is recorded once the code is right, with its clock started
at the moment the form was sent, and the person lands on the request's status page, whose secret
link is theirs to keep. An unknown address gets the same "we sent a code" page and a challenge
that can never succeed, so the form never tells whether someone is on record.

What the person typed waits for the code sealed under the organisation's key and bound to the
challenge, in a hidden field: nothing is stored for an address that never proves itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from privasi.consent import verification
from privasi.db import Database, utcnow
from privasi.errors import Locked, NotFound, PrivasiError, RateLimited, ValidationFailed
from privasi.http.deps import truncated_client
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import downloads
from privasi.rights import service as rights
from privasi.rights.models import REQUEST_TYPES, REQUESTER_KINDS, STATUSES
from privasi.subjects import service as subjects
from privasi.vault import service as vault
from privasi.vault.normalise import email as normal_email
from privasi.vault.normalise import phone as normal_phone
from privasi.web.common import db_of, settings_of
from privasi.web.forms import DoubleSubmit
from privasi.web.i18n import request_language, t
from privasi.web.render import PrivateHtmlRoute, redirect, render

router = APIRouter(include_in_schema=False, route_class=PrivateHtmlRoute)

PURPOSE = "rights_request"  # what a verification code unlocks here
CSRF_COOKIE = "privasi_request_csrf"
FORM = DoubleSubmit(CSRF_COOKIE, "request-csrf")
CODE_CHANNEL = {"email": "email", "phone": "whatsapp"}
METHOD = {"email": "email_code", "whatsapp": "whatsapp_code"}
FORM_TYPES = REQUEST_TYPES
MAX_TEXT = 2000
MISSING = {"title_key": "privacy.missing.title", "body_key": "privacy.missing.body"}


def labels(group: str, ids: tuple[str, ...], lang: str) -> dict[str, str]:
    """Catalogue texts ``rights_center.<group>.<id>`` for each id, in ``lang``."""
    return {i: t(f"rights_center.{group}.{i}", lang) for i in ids}


def _base(slug: str) -> str:
    return f"/privacy/{slug}/request"


def _page(
    request: Request, slug: str, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    settings = settings_of(request)
    lang, _ = request_language(request)
    names = labels("types", FORM_TYPES, lang)
    helps = labels("help", FORM_TYPES, lang)
    requesters = labels("requesters", REQUESTER_KINDS, lang)
    values: dict[str, Any] = {
        "org_slug": slug,
        "base": _base(slug),
        "error": "",
        "error_params": {},
        "types": [{"id": i, "label": names[i], "help": helps[i]} for i in FORM_TYPES],
        "requester_kinds": [{"id": i, "label": requesters[i]} for i in REQUESTER_KINDS],
        "form": {},
    }
    values.update(context)
    return FORM.render(request, settings, template, values, _base(slug), status)


def _org(db: Database, slug: str) -> Any:
    with db.session(system=True) as system:
        return orgs.get_org_by_slug(system, slug)


def _missing(request: Request) -> Response:
    return render(request, "privacy/missing.html", MISSING, status_code=404)


def _identify(value: str) -> tuple[str, str]:
    text = value.strip()
    if "@" in text:
        return "email", normal_email(text)
    return "phone", normal_phone(text)


def _text(form: dict[str, Any], name: str) -> str:
    return str(form.get(name, "")).strip()[:MAX_TEXT]


def _read_form(form: dict[str, Any]) -> dict[str, Any]:
    """What the person asked for, checked; the key of the first problem in ``ValueError``."""
    kind = _text(form, "type")
    if kind not in FORM_TYPES:
        raise ValueError("rights_center.form.errors.type")
    requester = _text(form, "requester_kind") or "subject"
    if requester not in REQUESTER_KINDS:
        raise ValueError("rights_center.form.errors.requester")
    note = _text(form, "requester_note")
    if requester != "subject" and not note:
        raise ValueError("rights_center.form.errors.requester_note")
    details: dict[str, Any] = {}
    description = _text(form, "details")
    if description:
        details["description"] = description
    if kind == "rectification":
        field, value = _text(form, "field")[:100], _text(form, "corrected")
        if not field or not value:
            raise ValueError("rights_center.form.errors.rectification")
        details["changes"] = {field: value}
    return {"type": kind, "requester_kind": requester, "requester_note": note, "details": details}


def _seal(org_id: str, challenge_id: str, pending: dict[str, Any], db: Database) -> str:
    with db.session(org_id) as session:
        return vault.vault_for(session).seal_for_org(
            org_id, "secrets", json.dumps(pending).encode(), f"rights-form:{challenge_id}"
        )


def _human(moment: str | None) -> str:
    """An ISO time in the organisation's zone as people read it: 05-03-2026 14:30 (UTC+07:00)."""
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment)
    offset = parsed.strftime("%z")
    return f"{parsed:%d-%m-%Y %H:%M} (UTC{offset[:3]}:{offset[3:]})"


# --- routes ---------------------------------------------------------------------------------


@router.get("/privacy/{org_slug}/request")
def form(org_slug: str, request: Request) -> Response:
    try:
        org = _org(db_of(request), org_slug)
    except NotFound:
        return _missing(request)
    return _page(request, org_slug, "rights/request_form.html", {"org_name": org.name})


@router.post("/privacy/{org_slug}/request")
async def send(org_slug: str, request: Request) -> Response:
    data = await request.form()
    return await run_in_threadpool(_send, request, org_slug, dict(data))


def _send(request: Request, slug: str, form: dict[str, Any]) -> Response:
    db, settings = db_of(request), settings_of(request)
    lang, _ = request_language(request)
    try:
        org = _org(db, slug)
    except NotFound:
        return _missing(request)
    keep = {k: _text(form, k) for k in ("type", "requester_kind", "requester_note", "details")}
    keep.update(field=_text(form, "field"), corrected=_text(form, "corrected"))
    context: dict[str, Any] = {"org_name": org.name, "form": keep}
    template = "rights/request_form.html"
    if not FORM.ok(request, settings, form.get("csrf_token")):
        return _page(
            request, slug, template, {**context, "error": "rights_center.csrf"}, status=403
        )
    try:
        asked = _read_form(form)
    except ValueError as problem:
        return _page(request, slug, template, {**context, "error": str(problem)}, status=422)
    try:
        kind, address = _identify(_text(form, "address")[:320])
    except ValidationFailed:
        context["error"] = "rights_center.form.errors.address"
        return _page(request, slug, template, context, status=422)
    with db.session(org.id) as session:
        subject = subjects.find_by_identifier(session, kind, address)
        network = truncated_client(request)
        try:
            issued, send = verification.issue_for_visitor(
                session,
                purpose=PURPOSE,
                subject_id=subject.id if subject else None,
                channel=CODE_CHANNEL[kind],
                client_network=network,
            )
        except RateLimited:
            context["error"] = "rights_center.form.errors.rate_limited"
            return _page(request, slug, template, context, status=429)
        if not send:
            subject = None
        if subject is not None:
            notify.enqueue(
                session,
                channel=CODE_CHANNEL[kind],
                template="verification_code",
                lang=lang,
                params={
                    "code": issued.code,
                    "minutes": int(verification.CODE_TTL.total_seconds() // 60),
                },
                subject_id=subject.id,
                to=address,
            )
    pending = {**asked, "lang": lang, "received_at": utcnow().isoformat()}
    sealed = _seal(org.id, issued.challenge_id, pending, db)
    code_context = {
        "org_name": org.name,
        "challenge": issued.challenge_id,
        "pending": sealed,
        "channel": CODE_CHANNEL[kind],
    }
    return _page(request, slug, "rights/request_code.html", code_context)


@router.post("/privacy/{org_slug}/request/verify")
async def verify(org_slug: str, request: Request) -> Response:
    data = await request.form()
    return await run_in_threadpool(_verify, request, org_slug, dict(data))


def _open_pending(session: Any, org_id: str, challenge_id: str, sealed: str) -> dict[str, Any]:
    try:
        plain = vault.vault_for(session).open_for_org(
            org_id, "secrets", sealed, f"rights-form:{challenge_id}"
        )
        pending = json.loads(plain)
    except (vault.VaultError, ValueError):
        raise NotFound("the request form could not be read; start again") from None
    if not isinstance(pending, dict) or pending.get("type") not in FORM_TYPES:
        raise NotFound("the request form could not be read; start again")
    return pending


def _record(
    session: Any, request: Request, org: Any, challenge: Any, pending: dict[str, Any]
) -> Any:
    principal = orgs.Principal(
        org.id,
        "subject",
        challenge.subject_id,
        frozenset(),
        org.id,
        client_addr=truncated_client(request),
    )
    rights_request = rights.submit(
        session,
        principal,
        type=pending["type"],
        channel="privacy_center",
        subject_id=challenge.subject_id,
        requester_kind=pending["requester_kind"],
        requester_note=pending.get("requester_note") or None,
        details=pending.get("details") or None,
        lang=pending.get("lang", "id"),
        received_at=datetime.fromisoformat(pending["received_at"]),
    )
    method = METHOD.get(challenge.channel, "email_code")
    try:
        allowed = {v.value for v in policies.current_policy(session).rights.verification}
    except NotFound:
        allowed = set()
    # A guardian's or an agent's authority is more than control of the address: staff check it.
    if pending["requester_kind"] == "subject" and (
        method in allowed or (method == "whatsapp_code" and "phone_code" in allowed)
    ):
        rights.mark_verified(session, principal, rights_request, method)
    return rights_request


def _verify(request: Request, slug: str, form: dict[str, Any]) -> Response:
    db, settings = db_of(request), settings_of(request)
    try:
        org = _org(db, slug)
    except NotFound:
        return _missing(request)
    challenge_id = _text(form, "challenge")[:36]
    sealed = str(form.get("pending", ""))[:20_000]
    context: dict[str, Any] = {"org_name": org.name, "challenge": challenge_id, "pending": sealed}
    start = "rights/request_form.html"
    if not FORM.ok(request, settings, form.get("csrf_token")):
        return _page(request, slug, start, {**context, "error": "rights_center.csrf"}, status=403)
    error: PrivasiError | None = None
    url = None
    with db.session(org.id) as session:
        # A wrong code is counted in this transaction, so the error is caught rather than raised:
        # a rollback would hand out free guesses.
        try:
            pending = _open_pending(session, org.id, challenge_id, sealed)
            challenge = verification.verify(
                session, challenge_id, _text(form, "code")[:20], purpose=PURPOSE
            )
        except PrivasiError as exc:
            error = exc
        else:
            with session.begin_nested():
                recorded = _record(session, request, org, challenge, pending)
            url = downloads.status_url(session, slug, recorded, base_url="")
    if isinstance(error, verification.CodeIncorrect):
        context.update(
            error="rights_center.code.incorrect",
            error_params={"left": error.extra.get("attempts_left", 0)},
        )
        return _page(request, slug, "rights/request_code.html", context, status=422)
    if error is not None or url is None:
        key = (
            "rights_center.code.locked"
            if isinstance(error, Locked)
            else "rights_center.code.expired"
        )
        return _page(request, slug, start, {"org_name": org.name, "error": key}, status=400)
    return redirect(url)


@router.get("/privacy/{org_slug}/request/{token}")
def status(org_slug: str, token: str, request: Request) -> Response:
    try:
        shown = rights.request_status_public(db_of(request), org_slug, token)
    except NotFound:
        return render(
            request,
            "rights/message.html",
            {
                "org_slug": org_slug,
                "title_key": "rights_center.status.missing.title",
                "body_key": "rights_center.status.missing.body",
            },
            status_code=404,
        )
    lang, _ = request_language(request)
    denial = shown.get("denial_reason")
    status_key = shown["status"] if shown["status"] in STATUSES else "received"
    context = {
        "org_slug": org_slug,
        "shown": shown,
        "type_name": labels("types", FORM_TYPES, lang).get(shown["type"], shown["type"]),
        "status_name": labels("statuses", STATUSES, lang)[status_key],
        "explain": labels("explain", STATUSES, lang)[status_key],
        "received": _human(shown.get("received_at")),
        "due": _human(shown.get("due_at")),
        "completed": _human(shown.get("completed_at")),
        "denial": denial[0 if lang == "id" else 1] if denial else "",
    }
    response = render(request, "rights/request_status.html", context)
    # The token in the address is the key to this page: keep it out of other sites' logs.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
