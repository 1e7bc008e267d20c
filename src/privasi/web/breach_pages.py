"""``/admin/breaches``: the breach register with its clocks, and a breach's page with its
timeline, affected counts and the notices to review, approve (a DPO) and send. Every step is a
``privasi.breach`` service call; the pages hold no rules."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.breach import affected, documents, notices, views
from privasi.breach import service as breaches
from privasi.breach.models import AUDIENCES, OPEN_STATUSES, SEVERITIES, Breach
from privasi.errors import NotFound, PrivasiError
from privasi.policy import service as policies
from privasi.web.admin.views import error_key, not_found, page_lang, page_tools, undo, zone_of
from privasi.web.common import FormText
from privasi.web.render import apply_security_headers, flash, redirect
from privasi.web.staff import StaffPage, StaffRoute, staff_page

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

LIST_URL = "/admin/breaches"
TEXT_FIELDS = ("description", "measures", "advice")


def _breach(page: StaffPage, breach_id: str) -> Breach:
    try:
        return breaches.get(page.session, breach_id[:36])
    except NotFound:
        raise not_found(page.request) from None


def _done(breach_id: str, key: str, level: str = "success", **params: str | int) -> Response:
    response = redirect(f"{LIST_URL}/{breach_id}")
    flash(response, key, level, **params)
    return response


def _refused(page: StaffPage, breach_id: str, exc: PrivasiError) -> Response:
    undo(page.session)
    log.info("breach step refused", extra={"error": type(exc).__name__})
    return _done(breach_id, error_key(exc), "error")


def _local(page: StaffPage, value: str) -> datetime | None:
    """A ``datetime-local`` form value, read in the organisation's time zone."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(page.org.time_zone))
    return moment.astimezone(UTC)


def _scope_options(page: StaffPage) -> dict[str, Any]:
    try:
        policy = policies.current_policy(page.session)
    except NotFound:
        return {"categories": [], "systems": []}
    return {
        "categories": [(c.id, c.name) for c in policy.categories],
        "systems": [(s.id, s.name) for s in policy.systems],
    }


# --- the register ------------------------------------------------------------------------------


@router.get("/admin/breaches")
def register(request: Request) -> Response:
    with staff_page(request, "breach.read") as page:
        tools = page_tools(page)
        now = tools["now"]
        rows = []
        for breach in breaches.list_breaches(page.session, limit=200):
            due = breaches.next_due(page.session, breach)
            is_open = breach.status in OPEN_STATUSES
            rows.append(
                {
                    "breach": breach,
                    "reference": breaches.reference(breach),
                    "clock": tools["clock"](due.due_at, not is_open) if due else None,
                    "open": is_open,
                    "affected": affected.counts(page.session, breach)["total"],
                }
            )
        context = {
            **tools,
            **_scope_options(page),
            "rows": rows,
            "severities": SEVERITIES,
            "now_local": now.astimezone(zone_of(page.org.time_zone)).strftime("%Y-%m-%dT%H:%M"),
        }
        return page.render("admin/breaches/list.html", context)


@router.post("/admin/breaches")
async def create(request: Request) -> Response:
    form = await request.form()
    csrf = str(form.get("csrf_token", ""))
    with staff_page(request, "breach.manage", csrf=csrf) as page:
        texts = {
            name: {lang: str(form.get(f"{name}_{lang}", ""))[:4000] for lang in ("id", "en")}
            for name in TEXT_FIELDS
        }
        try:
            breach = breaches.create(
                page.session,
                page.principal,
                title=str(form.get("title", ""))[:200],
                detected_at=_local(page, str(form.get("detected_at", ""))),
                occurred_from=_local(page, str(form.get("occurred_from", ""))),
                severity=str(form.get("severity", "medium")),
                categories=[str(v) for v in form.getlist("categories")][:100],
                systems=[str(v) for v in form.getlist("systems")][:100],
                description=texts["description"],
                measures=texts["measures"],
                advice=texts["advice"],
                business_user_org_ids=notices.business_users_for(
                    request.app.state.db, page.org.id, None
                ),
                business_user_hours=request.app.state.settings.breach_business_user_hours,
            )
        except PrivasiError as exc:
            undo(page.session)
            response = redirect(LIST_URL)
            flash(response, error_key(exc), "error")
            return response
        return _done(breach.id, "breaches.flash.created", reference=breaches.reference(breach))


# --- one breach --------------------------------------------------------------------------------


@router.get("/admin/breaches/{breach_id}")
def detail(request: Request, breach_id: str) -> Response:
    with staff_page(request, "breach.read") as page:
        breach = _breach(page, breach_id)
        tools = page_tools(page)
        session = page.session
        is_open = breach.status in OPEN_STATUSES
        clocks = [
            {
                "name": c.name,
                "clock": tools["clock"](c.due_at, c.met_at is not None or not is_open),
                "met_at": c.met_at,
            }
            for c in breaches.clocks(session, breach)
        ]
        found_notices = notices.notices_of(session, breach)
        context = {
            **tools,
            **_scope_options(page),
            "breach": breach,
            "reference": breaches.reference(breach),
            "is_open": is_open,
            "clocks": clocks,
            "counts": affected.counts(session, breach),
            "notices": [views.notice_view(session, n) for n in found_notices],
            "deliveries": notices.delivery_counts(session, breach),
            "timeline": breaches.timeline(session, breach),
            "severities": SEVERITIES,
        }
        lang = page_lang(request)
        context["category_names"] = {c: n.get(lang) for c, n in context["categories"]}
        return page.render("admin/breaches/detail.html", context)


@router.post("/admin/breaches/{breach_id}/confirm")
def confirm(request: Request, breach_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            breaches.confirm(page.session, page.principal, breach)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.confirmed")


@router.post("/admin/breaches/{breach_id}/texts")
async def texts(request: Request, breach_id: str) -> Response:
    form = await request.form()
    with staff_page(request, "breach.manage", csrf=str(form.get("csrf_token", ""))) as page:
        breach = _breach(page, breach_id)
        changes: dict[str, Any] = {
            name: {lang: str(form.get(f"{name}_{lang}", ""))[:4000] for lang in ("id", "en")}
            for name in TEXT_FIELDS
        }
        if form.get("severity"):
            changes["severity"] = str(form.get("severity"))
        changes["categories"] = [str(v) for v in form.getlist("categories")][:100]
        try:
            breaches.update(page.session, page.principal, breach, changes)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.updated")


@router.post("/admin/breaches/{breach_id}/note")
def note(
    request: Request, breach_id: str, note: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            breaches.add_note(page.session, page.principal, breach, note[:4000])
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.noted")


@router.post("/admin/breaches/{breach_id}/affected/discover")
def discover(request: Request, breach_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            found = affected.discover(page.session, page.principal, breach)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(
            breach.id, "breaches.flash.discovered", added=found.added, unmatched=found.unmatched
        )


@router.post("/admin/breaches/{breach_id}/affected/import")
def import_list(
    request: Request, breach_id: str, listing: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            pairs = affected.parse_list(listing[:5_000_000])
            found = affected.import_list(page.session, page.principal, breach, pairs)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(
            breach.id, "breaches.flash.imported", added=found.added, unmatched=found.unmatched
        )


@router.post("/admin/breaches/{breach_id}/notices")
def draft(request: Request, breach_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            notices.draft(page.session, page.principal, breach)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.drafted")


@router.post("/admin/breaches/{breach_id}/notices/{audience}/approve")
def approve(request: Request, breach_id: str, audience: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "breach.approve", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        if audience not in AUDIENCES:
            raise not_found(request)
        try:
            notices.approve(page.session, page.principal, breach, audience)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.approved")


@router.post("/admin/breaches/{breach_id}/notices/{audience}/send")
def send(
    request: Request,
    breach_id: str,
    audience: str,
    submission: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        if audience not in AUDIENCES:
            raise not_found(request)
        try:
            notices.send(
                page.session,
                page.principal,
                breach,
                audience,
                db=request.app.state.db,
                submission=submission[:4000] or None,
            )
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.sent")


@router.post("/admin/breaches/{breach_id}/close")
def close(
    request: Request,
    breach_id: str,
    reason: FormText = "",
    dismiss: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    with staff_page(request, "breach.manage", csrf=csrf_token) as page:
        breach = _breach(page, breach_id)
        try:
            breaches.close(
                page.session, page.principal, breach, reason[:4000], dismissed=bool(dismiss)
            )
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        return _done(breach.id, "breaches.flash.closed")


def _attachment(data: bytes, media_type: str, name: str) -> Response:
    response = Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return apply_security_headers(response)


@router.get("/admin/breaches/{breach_id}/authority.{fmt}")
def authority(request: Request, breach_id: str, fmt: str) -> Response:
    with staff_page(request, "breach.read") as page:
        breach = _breach(page, breach_id)
        if fmt not in ("md", "html"):
            raise not_found(request)
        try:
            text = documents.authority_document(page.session, page.principal, breach, fmt)
        except PrivasiError as exc:
            return _refused(page, breach_id, exc)
        media = "text/html" if fmt == "html" else "text/markdown"
        name = f"{breaches.reference(breach)}-authority.{fmt}"
        return _attachment(text.encode(), f"{media}; charset=utf-8", name)


@router.get("/admin/breaches/{breach_id}/evidence.json")
def evidence(request: Request, breach_id: str) -> Response:
    with staff_page(request, "breach.read") as page:
        breach = _breach(page, breach_id)
        pack = documents.evidence_pack(page.session, page.principal, breach)
        body = json.dumps(pack, indent=2, ensure_ascii=False, default=str).encode()
        return _attachment(body, "application/json", f"{breaches.reference(breach)}-evidence.json")
