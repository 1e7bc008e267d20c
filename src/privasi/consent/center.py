"""The privacy center's consent page: ``/privacy/{org_slug}/consent``.

A person proves who they are with a 6-digit code sent to the e-mail address or phone number the
organisation has on record (``consent.verification``), then sees every consent they can give or
withdraw, reads what withdrawing means before confirming, and the change takes effect at once.

The page never says whether an address is on record: an unknown address gets the same "we sent a
code" page and a challenge that cannot succeed. After verification a signed cookie, limited to
this page's path and to 15 minutes, names the subject; forms carry a CSRF token derived from a
separate nonce cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from privasi.config import Settings
from privasi.consent import service as consent
from privasi.consent import verification
from privasi.consent.purposes import policy_in_effect
from privasi.db import Database, PrivasiSession
from privasi.errors import Locked, NotFound, PrivasiError, RateLimited, ValidationFailed
from privasi.http.deps import truncated_client
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy.schema import Policy
from privasi.policy.vocab import LegalBasis
from privasi.subjects import service as subjects
from privasi.vault.normalise import email as normal_email
from privasi.vault.normalise import phone as normal_phone
from privasi.web.common import db_of, settings_of
from privasi.web.forms import DoubleSubmit
from privasi.web.i18n import request_language, t
from privasi.web.render import PrivateHtmlRoute, flash, redirect, render
from privasi.web.sessions import cookie_secure

router = APIRouter(include_in_schema=False, route_class=PrivateHtmlRoute)

PURPOSE = "consent_center"  # what a verification code unlocks here
SESSION_COOKIE = "privasi_center"
CSRF_COOKIE = "privasi_center_csrf"
FORM = DoubleSubmit(CSRF_COOKIE, "center-csrf")
SESSION_SECONDS = 15 * 60
CODE_CHANNEL = {"email": "email", "phone": "whatsapp"}


@dataclass(frozen=True)
class Visitor:
    org_id: str
    subject_id: str
    channel: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(settings: Settings, label: str, body: str) -> str:
    key = settings.resolved_secret_key()
    return _b64(hmac.new(key, f"{label}\x00{body}".encode(), hashlib.sha256).digest())


def _base(slug: str) -> str:
    return f"/privacy/{slug}/consent"


# --- cookies: the verified session and the CSRF nonce -----------------------------------------


def _session_value(settings: Settings, visitor: Visitor) -> str:
    data = {"o": visitor.org_id, "s": visitor.subject_id, "c": visitor.channel}
    data["e"] = int(time.time()) + SESSION_SECONDS  # type: ignore[assignment]
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{body}.{_sign(settings, 'center-session', body)}"


def _visitor(request: Request, settings: Settings, org_id: str) -> Visitor | None:
    raw = request.cookies.get(SESSION_COOKIE, "")
    body, _, mac = raw.partition(".")
    if not body or not hmac.compare_digest(_sign(settings, "center-session", body), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if data["o"] != org_id or int(data["e"]) < time.time():
            return None
        return Visitor(org_id, str(data["s"]), str(data["c"]))
    except (ValueError, KeyError, TypeError):
        return None


def _page(
    request: Request,
    slug: str,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> Response:
    settings = settings_of(request)
    values = {"org_slug": slug, "base": _base(slug), "error": "", "error_params": {}}
    values.update(context)
    return FORM.render(request, settings, template, values, _base(slug), status)


def _org(db: Database, slug: str) -> Any:
    with db.session(system=True) as system:
        return orgs.get_org_by_slug(system, slug)


def _refused(request: Request, slug: str) -> Response:
    try:
        name = _org(db_of(request), slug).name
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    context = {"org_name": name, "error": "consent_center.csrf"}
    return _page(request, slug, "consent/center_start.html", context, status=403)


# --- what the page shows ---------------------------------------------------------------------


def _purposes(
    session: PrivasiSession, policy: Policy, subject_id: str, lang: str
) -> list[dict[str, Any]]:
    rows = []
    for purpose in policy.purposes:
        if purpose.legal_basis is not LegalBasis.consent:
            continue
        decision = consent.check(session, [subject_id], purpose.id)[0]
        rows.append(
            {
                "id": purpose.id,
                "name": purpose.name.get(lang),
                "description": purpose.description.get(lang),
                "granted": decision.allowed,
                "status_key": f"consent_center.status.{decision.reason}"
                if decision.reason in STATUS_REASONS
                else "consent_center.status.other",
            }
        )
    return rows


STATUS_REASONS = frozenset(
    {
        "consent",
        "no_consent",
        "withdrawn",
        "expired",
        "minor_without_guardian",
        "restricted",
        "objection",
    }
)


def _consent_purpose(policy: Policy, purpose_id: str) -> Any:
    try:
        purpose = policy.purpose(purpose_id)
    except KeyError:
        raise NotFound("no such purpose") from None
    if purpose.legal_basis is not LegalBasis.consent:
        raise NotFound("no such purpose")
    return purpose


def _proof(request: Request, version: int, text: str, lang: str) -> consent.Proof:
    return consent.Proof(
        policy_version=version,
        text=text,
        language=lang,
        channel="web",
        method="button",
        source="privacy-center",
        user_agent=(request.headers.get("user-agent") or "")[:300] or None,
        client_addr=truncated_client(request),
    )


# --- routes ---------------------------------------------------------------------------------


@router.get("/privacy/{org_slug}/consent")
def center(org_slug: str, request: Request) -> Response:
    db, settings = db_of(request), settings_of(request)
    lang, _ = request_language(request)
    try:
        org = _org(db, org_slug)
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    visitor = _visitor(request, settings, org.id)
    if visitor is None:
        return _page(request, org_slug, "consent/center_start.html", {"org_name": org.name})
    with db.session(org.id) as session:
        policy, _ = policy_in_effect(session)
        rows = _purposes(session, policy, visitor.subject_id, lang)
    return _page(
        request, org_slug, "consent/center_list.html", {"org_name": org.name, "purposes": rows}
    )


MISSING = {"title_key": "privacy.missing.title", "body_key": "privacy.missing.body"}


@router.post("/privacy/{org_slug}/consent/start")
async def start(org_slug: str, request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_start, request, org_slug, dict(form))


def _identify(value: str) -> tuple[str, str]:
    text = value.strip()
    if "@" in text:
        return "email", normal_email(text)
    return "phone", normal_phone(text)


def _start(request: Request, slug: str, form: dict[str, Any]) -> Response:
    db, settings = db_of(request), settings_of(request)
    lang, _ = request_language(request)
    if not FORM.ok(request, settings, form.get("csrf_token")):
        return _refused(request, slug)
    try:
        org = _org(db, slug)
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    context: dict[str, Any] = {"org_name": org.name}
    try:
        kind, address = _identify(str(form.get("address", ""))[:320])
    except ValidationFailed:
        context["error"] = "consent_center.start.invalid"
        return _page(request, slug, "consent/center_start.html", context, status=422)
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
            context["error"] = "consent_center.start.rate_limited"
            return _page(request, slug, "consent/center_start.html", context, status=429)
        if not send:
            subject = None
        if subject is not None:
            minutes = int(verification.CODE_TTL.total_seconds() // 60)
            notify.enqueue(
                session,
                channel=CODE_CHANNEL[kind],
                template="verification_code",
                lang=lang,
                params={"code": issued.code, "minutes": minutes},
                subject_id=subject.id,
                to=address,
            )
    context.update(challenge=issued.challenge_id, channel=CODE_CHANNEL[kind])
    return _page(request, slug, "consent/center_code.html", context)


@router.post("/privacy/{org_slug}/consent/verify")
async def verify(org_slug: str, request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_verify, request, org_slug, dict(form))


def _verify(request: Request, slug: str, form: dict[str, Any]) -> Response:
    db, settings = db_of(request), settings_of(request)
    if not FORM.ok(request, settings, form.get("csrf_token")):
        return _refused(request, slug)
    try:
        org = _org(db, slug)
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    challenge_id = str(form.get("challenge", ""))[:36]
    code = str(form.get("code", ""))[:20]
    error: PrivasiError | None = None
    visitor: Visitor | None = None
    with db.session(org.id) as session:
        # The failed attempt is counted in this transaction, so the error is caught, not raised:
        # a rollback would hand out free guesses.
        try:
            challenge = verification.verify(session, challenge_id, code, purpose=PURPOSE)
            if challenge.subject_id is not None:  # always so: verify never matches without one
                visitor = Visitor(org.id, challenge.subject_id, challenge.channel)
        except PrivasiError as exc:
            error = exc
    context: dict[str, Any] = {"org_name": org.name, "challenge": challenge_id}
    if isinstance(error, verification.CodeIncorrect):
        context.update(
            error="consent_center.code.incorrect",
            error_params={"left": error.extra.get("attempts_left", 0)},
        )
        return _page(request, slug, "consent/center_code.html", context, status=422)
    if error is not None or visitor is None:
        key = (
            "consent_center.code.locked"
            if isinstance(error, Locked)
            else "consent_center.code.expired"
        )
        return _page(
            request, slug, "consent/center_start.html", {**context, "error": key}, status=400
        )
    response = redirect(_base(slug))
    response.set_cookie(
        SESSION_COOKIE,
        _session_value(settings, visitor),
        max_age=SESSION_SECONDS,
        path=_base(slug),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
    )
    return response


@router.get("/privacy/{org_slug}/consent/withdraw/{purpose_id}")
def confirm_withdrawal(org_slug: str, purpose_id: str, request: Request) -> Response:
    db, settings = db_of(request), settings_of(request)
    lang, _ = request_language(request)
    try:
        org = _org(db, org_slug)
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    if _visitor(request, settings, org.id) is None:
        return redirect(_base(org_slug))
    with db.session(org.id) as session:
        policy, _ = policy_in_effect(session)
        try:
            purpose = _consent_purpose(policy, purpose_id)
        except NotFound:
            return redirect(_base(org_slug))
        consequences = consent.withdrawal_consequences(policy, purpose.id, lang) or ""
    context = {
        "org_name": org.name,
        "purpose_id": purpose.id,
        "purpose_name": purpose.name.get(lang),
        "consequences": consequences,
    }
    return _page(request, org_slug, "consent/center_withdraw.html", context)


@router.post("/privacy/{org_slug}/consent/withdraw/{purpose_id}")
async def withdraw(org_slug: str, purpose_id: str, request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_change, request, org_slug, "withdraw", purpose_id, dict(form))


@router.post("/privacy/{org_slug}/consent/grant/{purpose_id}")
async def grant(org_slug: str, purpose_id: str, request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_change, request, org_slug, "grant", purpose_id, dict(form))


def _change(
    request: Request, slug: str, action: str, purpose_id: str, form: dict[str, Any]
) -> Response:
    db, settings = db_of(request), settings_of(request)
    lang, _ = request_language(request)
    if not FORM.ok(request, settings, form.get("csrf_token")):
        return _refused(request, slug)
    try:
        org = _org(db, slug)
    except NotFound:
        return render(request, "privacy/missing.html", MISSING, status_code=404)
    visitor = _visitor(request, settings, org.id)
    if visitor is None:
        return redirect(_base(slug))
    response = redirect(_base(slug))
    principal = orgs.Principal(
        org.id,
        "subject",
        visitor.subject_id,
        frozenset(),
        org.id,
        client_addr=truncated_client(request),
    )
    with db.session(org.id) as session:
        policy, version = policy_in_effect(session)
        try:
            purpose = _consent_purpose(policy, purpose_id)
        except NotFound:
            return response
        subject = subjects.get_subject(session, visitor.subject_id)
        name = purpose.name.get(lang)
        if action == "withdraw":
            consequences = consent.withdrawal_consequences(policy, purpose.id, lang) or ""
            shown = t("consent_center.withdraw.title", lang, purpose_name=name)
            shown += f"\n{consequences}" if consequences else ""
            event = consent.withdraw(
                session, principal, subject, purpose.id, _proof(request, version, shown, lang)
            )
            notify.enqueue(
                session,
                channel=visitor.channel,
                template="consent_withdrawn",
                lang=lang,
                params={
                    "purpose_name": name,
                    "consequences": consequences,
                    "center_url": f"{settings.public_url}{_base(slug)}",
                },
                subject_id=subject.id,
                dedupe_key=f"center-withdrawn:{event.id}",
            )
            flash(response, "consent_center.withdrawn", "success", purpose_name=name)
            return response
        shown = f"{name}: {purpose.description.get(lang)}"
        try:
            with session.begin_nested():
                consent.grant(
                    session, principal, subject, purpose.id, _proof(request, version, shown, lang)
                )
        except PrivasiError:
            # A minor, or a restricted subject: the grant is refused and the page says so.
            flash(response, "consent_center.grant_refused", "error", purpose_name=name)
            return response
        flash(response, "consent_center.granted", "success", purpose_name=name)
    return response


@router.post("/privacy/{org_slug}/consent/end")
def end(org_slug: str, request: Request) -> Response:
    response = redirect(_base(org_slug))
    settings = settings_of(request)
    response.delete_cookie(
        SESSION_COOKIE,
        path=_base(org_slug),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
    )
    return response
