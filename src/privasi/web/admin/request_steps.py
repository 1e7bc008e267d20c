"""The other staff steps on an open request: match it to a subject found by e-mail or phone,
assign it, ask the requester for something (the clock runs on), resume, cancel. Thin: the rules
are ``privasi.rights.service`` and ``privasi.rights.lifecycle``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import PrivasiError, ValidationFailed
from privasi.rights import lifecycle
from privasi.rights import service as rights
from privasi.web.admin.requests_pages import _done, _refused, _request, _step
from privasi.web.admin.subjects_pages import find
from privasi.web.common import FormText
from privasi.web.staff import StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)


@router.post("/admin/requests/{request_id}/match")
def match(
    request: Request, request_id: str, q: FormText = "", csrf_token: FormText = ""
) -> Response:
    with staff_page(request, "requests.manage", csrf=csrf_token) as page:
        page.require("subjects.read")
        found = _request(page, request_id)
        try:
            subject = find(page, q)
        except ValidationFailed:
            return _done(found, "admin.subjects.invalid", "error")
        if subject is None:
            return _done(found, "admin.subjects.not_found", "error")
        try:
            rights.match_subject(page.session, page.principal, found, subject.id)
        except PrivasiError as exc:
            return _refused(page, request_id, exc)
        return _done(found, "admin.requests.matched_done")


@router.post("/admin/requests/{request_id}/assign")
def assign(
    request: Request, request_id: str, staff_id: FormText = "", csrf_token: FormText = ""
) -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: lifecycle.assign(
            page.session, page.principal, found, staff_id[:36] or None
        ),
        "admin.requests.assigned_done",
    )


@router.post("/admin/requests/{request_id}/ask")
def ask_requester(
    request: Request, request_id: str, note: FormText = "", csrf_token: FormText = ""
) -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: lifecycle.await_requester(
            page.session, page.principal, found, note[:2000]
        ),
        "admin.requests.asked",
        refuse=None if note.strip() else "admin.requests.errors.ask_note",
    )


@router.post("/admin/requests/{request_id}/resume")
def resume(request: Request, request_id: str, csrf_token: FormText = "") -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: lifecycle.resume(page.session, page.principal, found),
        "admin.requests.resumed",
    )


@router.post("/admin/requests/{request_id}/cancel")
def cancel(
    request: Request, request_id: str, note: FormText = "", csrf_token: FormText = ""
) -> Response:
    return _step(
        request,
        request_id,
        "requests.manage",
        csrf_token,
        lambda page, found: lifecycle.cancel(page.session, page.principal, found, note[:2000]),
        "admin.requests.cancelled",
        refuse=None if note.strip() else "admin.requests.errors.cancel_note",
    )
