"""``/admin/requests``: the queue by time left, a request's page with its tasks per system, and
the staff steps on it (verify, approve, deny with a ground, tick off tasks, complete), plus the
evidence record and the export as downloads. Every step is a ``privasi.rights`` service call."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.audit import service as audit
from privasi.consent import verification
from privasi.errors import Locked, NotFound, PrivasiError
from privasi.orgs import service as orgs
from privasi.retention import service as retention
from privasi.rights import downloads, execution, export, identity
from privasi.rights import service as rights
from privasi.rights.models import OPEN_STATUSES, RightsRequest
from privasi.web.admin import charts
from privasi.web.admin.views import (
    error_key,
    not_found,
    page_lang,
    page_tools,
    undo,
    zone_of,
)
from privasi.web.common import FormText
from privasi.web.render import apply_security_headers, flash, redirect
from privasi.web.staff import StaffPage, StaffRoute, staff_page

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

QUEUE_URL = "/admin/requests"
PAGE_SIZE = 50
SCAN_BATCH = 200
SCAN_LIMIT = 5000  # rows looked at for one filtered page; a small company has far fewer
CODE_CHANNELS = ("email", "whatsapp")


def _request(page: StaffPage, request_id: str) -> RightsRequest:
    try:
        return rights.get_request(page.session, request_id[:40])
    except NotFound:
        raise not_found(page.request) from None


def _url(request: RightsRequest) -> str:
    return f"{QUEUE_URL}/{request.id}"


def _done(
    request: RightsRequest, key: str, level: str = "success", **params: str | int
) -> Response:
    response = redirect(_url(request))
    flash(response, key, level, **params)
    return response


def _refused(page: StaffPage, request_id: str, exc: PrivasiError) -> Response:
    undo(page.session)
    log.info("request step refused", extra={"error": type(exc).__name__})
    return _done(_request(page, request_id), error_key(exc), "error")


def _step(
    request: Request,
    request_id: str,
    permission: str,
    csrf_token: str,
    act: Callable[[StaffPage, RightsRequest], object],
    done: str,
    *,
    refuse: str | None = None,
) -> Response:
    """One staff step on a request: the guard, the request, then ``act`` (the service call; a
    domain error is undone and shown), and back to the request's page saying ``done``. ``refuse``:
    the form's input was not usable; that message is shown and nothing is done."""
    with staff_page(request, permission, csrf=csrf_token) as page:
        found = _request(page, request_id)
        if refuse is not None:
            return _done(found, refuse, "error")
        try:
            act(page, found)
        except PrivasiError as exc:
            return _refused(page, request_id, exc)
        return _done(found, done)


# --- the queue ---------------------------------------------------------------------------------


def _queue(
    page: StaffPage,
    status: str | None,
    request_type: str | None,
    cursor: str | None,
    overdue: bool | None = None,
) -> tuple[list[RightsRequest], str | None]:
    """One page of the queue, soonest due first. The service filters by status; a type filter is
    applied here while walking its pages, so the order and the cursor stay the service's."""
    if not request_type:
        found = rights.list_requests(
            page.session, status=status, limit=PAGE_SIZE, cursor=cursor, overdue=overdue
        )
        return found.items, found.next_cursor
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    items: list[RightsRequest] = []
    scanned = 0
    while scanned < SCAN_LIMIT:
        batch = rights.list_requests(
            page.session, status=status, limit=SCAN_BATCH, cursor=str(offset), overdue=overdue
        )
        for index, row in enumerate(batch.items):
            if row.type == request_type:
                items.append(row)
                if len(items) == PAGE_SIZE:
                    more = index + 1 < len(batch.items) or batch.next_cursor is not None
                    return items, str(offset + index + 1) if more else None
        scanned += len(batch.items)
        if batch.next_cursor is None:
            return items, None
        offset = int(batch.next_cursor)
    return items, str(offset)


@router.get("/admin/requests")
def queue(
    request: Request,
    status: str = "",
    type: str = "",
    cursor: str = "",
    chart_type: str = "",
    overdue: str = "",
) -> Response:
    with staff_page(request, "requests.read") as page:
        status_filter = status if status in rights.STATUSES else None
        type_filter = type if type in rights.REQUEST_TYPES else None
        only_overdue = overdue == "1"
        items, next_cursor = _queue(
            page, status_filter, type_filter, cursor[:12] or None, True if only_overdue else None
        )
        tools = page_tools(page)
        chart_filter = chart_type if chart_type in rights.REQUEST_TYPES else None
        context = {
            **tools,
            "items": items,
            "next_cursor": next_cursor,
            "status": status_filter or "",
            "type": type_filter or "",
            "overdue": only_overdue,
            "statuses": rights.STATUSES,
            "types": rights.REQUEST_TYPES,
            "counts": rights.counts(page.session),
            "open_statuses": OPEN_STATUSES,
            "number": rights.display_number,
            "chart": charts.weekly_requests(
                page.session, tools["now"], zone_of(page.org.time_zone), request_type=chart_filter
            ),
            "chart_type": chart_filter or "",
            "outcomes": charts.OUTCOMES,
        }
        return page.render("admin/requests/queue.html", context)


# --- one request -------------------------------------------------------------------------------


def _holds(page: StaffPage, request: RightsRequest, tasks: list[Any]) -> list[Any] | None:
    """Legal holds that keep data this erasure would remove: on the subject, on a category or on
    a system it reaches, from the retention service."""
    if request.type != "erasure" or not request.subject_id:
        return None
    categories = sorted({c for t in tasks for c in (t.result or {}).get("categories", [])})
    found = {
        h.id: h
        for h in retention.blocking_holds(
            page.session, subject_id=request.subject_id, categories=categories
        )
    }
    for system in sorted({t.system_id for t in tasks if t.kind != "privasi"}):
        found.update((h.id, h) for h in retention.blocking_holds(page.session, system=system))
    return sorted(found.values(), key=lambda h: h.created_at)


def _assignable(page: StaffPage) -> list[tuple[str, str]]:
    if not page.can("requests.manage"):
        return []
    return [(u.id, u.name or u.email) for u in orgs.list_staff(page.session) if u.active]


def _assignee(page: StaffPage, request: RightsRequest) -> str | None:
    if request.assigned_to is None:
        return None
    try:
        user = orgs.get_staff(page.session, request.assigned_to)
    except NotFound:
        return None
    return user.name or user.email


@router.get("/admin/requests/{request_id}")
def detail(request: Request, request_id: str) -> Response:
    with staff_page(request, "requests.read") as page:
        found = _request(page, request_id)
        session = page.session
        details = rights.details_of(session, found)
        tasks = rights.tasks_of(session, found)
        diff = None
        if found.type == "rectification" and page.can("requests.manage"):
            try:
                diff = execution.diff(session, found)
            except (PrivasiError, ValueError):
                diff = None
        is_open = found.status in OPEN_STATUSES
        context = {
            **page_tools(page),
            "req": found,
            "number": rights.display_number(found),
            "is_open": is_open,
            "details": details if page.can("subjects.read") else {},
            "tasks": tasks,
            "task_notes": {
                t.id: rights.open_note(session, t.org_id, f"task:{t.id}", t.note) for t in tasks
            },
            "unfinished": [t for t in tasks if t.status not in ("done", "skipped")],
            "verification_note": rights.open_note(
                session, found.org_id, f"{found.id}:verification", found.verification_note
            ),
            "denial_note": rights.open_note(
                session, found.org_id, f"{found.id}:closing", found.denial_note
            ),
            "denial_grounds": rights.DENIAL_GROUNDS,
            "ground_index": 0 if page_lang(request) == "id" else 1,
            "diff": diff,
            "holds": _holds(page, found, tasks),
            "downloadable": found.type in downloads.DOWNLOADABLE and found.subject_id is not None,
            "code_channels": CODE_CHANNELS,
            "manual_kinds": ("manual",),
            "automatic_kinds": tuple(execution.EXECUTORS),
            "assignable": _assignable(page),
            "assignee": _assignee(page, found),
        }
        return page.render("admin/requests/detail.html", context)


@router.post("/admin/requests/{request_id}/verify")
def verify_by_staff(
    request: Request, request_id: str, note: FormText = "", csrf_token: FormText = ""
) -> Response:
    return _step(
        request,
        request_id,
        "requests.approve",
        csrf_token,
        lambda page, found: rights.mark_verified(
            page.session, page.principal, found, "staff_review", note[:2000]
        ),
        "admin.requests.verified",
        refuse=None if note.strip() else "admin.requests.errors.verify_note",
    )


@router.post("/admin/requests/{request_id}/code")
def send_code(
    request: Request, request_id: str, channel: FormText = "email", csrf_token: FormText = ""
) -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: identity.send_code(page.session, page.principal, found, channel),
        "admin.requests.code_sent",
        refuse=None if channel in CODE_CHANNELS else "admin.errors.validation",
    )


@router.post("/admin/requests/{request_id}/code/check")
def check_code(
    request: Request, request_id: str, code: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "requests.manage", csrf=csrf_token) as page:
        found = _request(page, request_id)
        try:
            identity.check_code(page.session, page.principal, found, code.strip()[:12])
        except (verification.CodeIncorrect, Locked):
            # The failed attempt is kept (the unit commits), or guessing would cost nothing.
            return _done(found, "admin.requests.errors.code_wrong", "error")
        except PrivasiError as exc:
            return _refused(page, request_id, exc)
        return _done(found, "admin.requests.verified")


@router.post("/admin/requests/{request_id}/approve")
def approve(request: Request, request_id: str, csrf_token: FormText = "") -> Response:
    return _step(
        request,
        request_id,
        "requests.approve",
        csrf_token,
        lambda page, found: rights.approve(page.session, page.principal, found),
        "admin.requests.approved",
    )


@router.post("/admin/requests/{request_id}/deny")
def deny(
    request: Request,
    request_id: str,
    ground: FormText = "",
    note: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    usable = ground in rights.DENIAL_GROUNDS and note.strip()
    return _step(
        request,
        request_id,
        "requests.approve",
        csrf_token,
        lambda page, found: rights.deny(page.session, page.principal, found, ground, note[:2000]),
        "admin.requests.denied",
        refuse=None if usable else "admin.requests.errors.deny_fields",
    )


@router.post("/admin/requests/{request_id}/complete")
def complete(request: Request, request_id: str, csrf_token: FormText = "") -> Response:
    return _step(
        request,
        request_id,
        "requests.approve",
        csrf_token,
        lambda page, found: rights.complete(page.session, page.principal, found),
        "admin.requests.completed",
    )


@router.post("/admin/requests/{request_id}/tasks/{task_id}")
def task_done(
    request: Request,
    request_id: str,
    task_id: str,
    status: FormText = "done",
    note: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    with staff_page(request, "requests.manage", csrf=csrf_token) as page:
        found = _request(page, request_id)
        if status not in ("done", "skipped"):
            return _done(found, "admin.errors.validation", "error")
        try:
            execution.complete_task(
                page.session,
                page.principal,
                found,
                task_id[:36],
                status=status,
                note=note[:2000] or None,
            )
        except PrivasiError as exc:
            return _refused(page, request_id, exc)
        if found.status == "completed":
            return _done(found, "admin.requests.completed")
        return _done(
            found, "admin.requests.task_done" if status == "done" else "admin.requests.task_skipped"
        )


@router.post("/admin/requests/{request_id}/retry")
def retry(request: Request, request_id: str, csrf_token: FormText = "") -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: execution.retry(page.session, page.principal, found),
        "admin.requests.retried",
    )


@router.post("/admin/requests/{request_id}/download-link")
def send_download_link(request: Request, request_id: str, csrf_token: FormText = "") -> Response:
    with staff_page(request, "requests.manage", csrf=csrf_token) as page:
        found = _request(page, request_id)
        try:
            sent = downloads.send_download_link(page.session, page.principal, found)
        except PrivasiError as exc:
            return _refused(page, request_id, exc)
        if sent["sent"]:
            return _done(found, "admin.requests.link_sent")
        return _done(found, "admin.requests.link_not_sent", "info")


# --- downloads -----------------------------------------------------------------------------------


def _attachment(data: bytes, media_type: str, name: str) -> Response:
    response = Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return apply_security_headers(response)


@router.get("/admin/requests/{request_id}/evidence.json")
def evidence(request: Request, request_id: str) -> Response:
    """The evidence record: what was asked, how identity was checked, what was done where."""
    with staff_page(request, "requests.read") as page:
        found = _request(page, request_id)
        record = rights.evidence(page.session, found)
        body = json.dumps(record, indent=2, ensure_ascii=False, default=str).encode()
        name = f"{export.file_stem(found)}-evidence.json"
        return _attachment(body, "application/json", name)


@router.get("/admin/requests/{request_id}/export.zip")
def export_zip(request: Request, request_id: str) -> Response:
    """The subject's export as the requester receives it; the download is audited."""
    with staff_page(request, "requests.manage") as page:
        page.require("subjects.read")
        found = _request(page, request_id)
        if found.type not in downloads.DOWNLOADABLE or found.subject_id is None:
            raise not_found(request)
        data = export.build_export(page.session, found, page_lang(request))
        audit.record(
            page.session,
            page.principal,
            "export.downloaded",
            subject_id=found.subject_id,
            purpose="rights_request",
            details={"request_id": found.id, "bytes": len(data), "by": "staff"},
        )
        return _attachment(data, "application/zip", f"{export.file_stem(found)}.zip")
