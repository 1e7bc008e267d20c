"""``/admin/audit``: the audit log with filters and pages, and verifying its chain in one click."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from privasi.audit import service as audit
from privasi.errors import ValidationFailed
from privasi.orgs import service as orgs
from privasi.web.common import FormText
from privasi.web.governance.common import times, zone_of
from privasi.web.staff import StaffPage, StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

PAGE_SIZE = 50
FILTERS = ("action", "actor", "from", "to")
PROBLEMS = frozenset(
    {
        "missing",
        "bad_mac",
        "broken_link",
        "head_mismatch",
        "bad_checkpoint",
        "truncated",
        "checkpoint_mismatch",
    }
)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(query: QueryParams) -> dict[str, str]:
    return {name: query.get(name, "").strip()[:100] for name in FILTERS}


def _page_of_events(
    page: StaffPage, filters: dict[str, str], cursor: str | None
) -> tuple[audit.AuditPage, list[str]]:
    """One page of events; the dates are whole days in the organisation's zone, both included."""
    zone = zone_of(page.org)
    problems: list[str] = []
    start, end = _day(filters["from"]), _day(filters["to"])
    if filters["from"] and start is None:
        problems.append("governance.audit.bad_from")
    if filters["to"] and end is None:
        problems.append("governance.audit.bad_to")
    since = datetime.combine(start, time.min, zone) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, zone) if end else None
    try:
        result = audit.query(
            page.session,
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            since=since,
            until=until,
            limit=PAGE_SIZE,
            cursor=cursor if cursor and cursor.isdigit() else None,
        )
    except ValidationFailed:
        result = audit.AuditPage([], None)
    return result, problems


def _render(page: StaffPage, request: Request, verify: dict[str, Any] | None = None) -> Response:
    filters = _filters(request.query_params)
    cursor = request.query_params.get("cursor")
    result, problems = _page_of_events(page, filters, cursor)
    kept = {k: v for k, v in filters.items() if v}
    return page.render(
        "admin/audit/log.html",
        {
            **times(page.org),
            "events": [_row(e) for e in result.items],
            "actor_names": actor_names(page),
            "filters": filters,
            "kept": kept,
            "next_cursor": result.next_cursor,
            "paged": bool(cursor),
            "problems": problems,
            "verify": verify,
        },
    )


def actor_names(page: StaffPage) -> dict[str, str]:
    """Readable names for the actor codes: staff by their name, API keys by theirs."""
    names = {f"staff:{u.id}": u.name for u in orgs.list_staff(page.session) if u.name}
    names.update({f"api_key:{k.key_id}": k.name for k in orgs.list_api_keys(page.session)})
    return names


def _row(event: Any) -> dict[str, Any]:
    # Details hold ids, reasons and flags only (never personal values): shown as key = value.
    details = event.details if isinstance(event.details, dict) else {}
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "subject_id": event.subject_id,
        "purpose": event.purpose,
        "count": event.count,
        "details": sorted((str(k), str(v)) for k, v in details.items()),
    }


@router.get("/admin/audit")
def audit_log(request: Request) -> Response:
    with staff_page(request, "audit.read") as page:
        return _render(page, request)


@router.post("/admin/audit/verify")
def verify_chain(request: Request, csrf_token: FormText = "") -> Response:
    with staff_page(request, "audit.read", csrf=csrf_token) as page:
        result = audit.verify(page.session, page.org.id)
        verify = {
            "ok": result.ok,
            "checked": result.checked,
            "last_seq": result.last_seq,
            "problem": result.problem if result.problem in PROBLEMS else None,
            "first_bad_seq": result.first_bad_seq,
            "checkpoints": result.checkpoints_checked,
        }
        return _render(page, request, verify)
