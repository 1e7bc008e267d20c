"""``/admin/retention``: each rule of the policy with what it would remove now, the runs with
their evidence, and the legal holds with forms to place and release them. Every step is a
``privasi.retention`` service call; the page holds no rules."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import NotFound, PrivasiError
from privasi.retention import holds
from privasi.retention import jobs as retention_jobs
from privasi.retention import service as retention
from privasi.web.admin.views import error_key, page_tools, undo
from privasi.web.render import flash, redirect
from privasi.web.staff import StaffPage, StaffRoute, staff_page

log = logging.getLogger("privasi.web")

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

PAGE_URL = "/admin/retention"


def _back(key: str, level: str = "success", anchor: str = "", **params: str | int) -> Response:
    response = redirect(PAGE_URL + anchor)
    flash(response, key, level, **params)
    return response


def _policy_choices(page: StaffPage) -> dict[str, Any]:
    try:
        policy = retention.current_policy(page.session)
    except NotFound:
        return {"has_policy": False, "categories": [], "systems": [], "rule_ids": []}
    return {
        "has_policy": True,
        "categories": [(c.id, c.name) for c in policy.categories],
        "systems": [(s.id, s.name) for s in policy.systems],
        "rule_ids": [r.id for r in policy.retention.rules],
    }


@router.get("/admin/retention")
def overview(request: Request) -> Response:
    with staff_page(request, "retention.read") as page:
        tools = page_tools(page)
        choices = _policy_choices(page)
        plans = retention.plan(page.session, tools["now"]) if choices["has_policy"] else []
        runs = [retention.evidence(r) | {"row": r} for r in retention.runs(page.session, limit=50)]
        context = {
            **tools,
            **choices,
            "plans": plans,
            "runs": runs,
            "holds": holds.listing(page.session, include_released=True)[:100],
        }
        return page.render("admin/retention/index.html", context)


@router.post("/admin/retention/runs")
async def queue_run(request: Request) -> Response:
    form = await request.form()
    with staff_page(request, "retention.manage", csrf=str(form.get("csrf_token", ""))) as page:
        rule = str(form.get("rule", "")).strip()[:100] or None
        try:
            retention_jobs.queue_sweep(page.session, page.org.id, rule, page.principal.actor)
        except PrivasiError as exc:
            undo(page.session)
            return _back(error_key(exc), "error")
        return _back("retention.flash.queued", anchor="#runs")


@router.post("/admin/retention/holds")
async def place_hold(request: Request) -> Response:
    form = await request.form()
    with staff_page(request, "retention.manage", csrf=str(form.get("csrf_token", ""))) as page:
        scope = str(form.get("scope", ""))[:16]
        target_field = {"category": "category", "system": "system"}.get(scope, "subject_id")
        try:
            holds.place(
                page.session,
                page.principal,
                scope=scope,
                target=str(form.get(target_field, ""))[:100],
                reason=str(form.get("reason", ""))[:2000],
                owner=str(form.get("owner", ""))[:200],
            )
        except PrivasiError as exc:
            undo(page.session)
            log.info("hold refused", extra={"error": type(exc).__name__})
            return _back(error_key(exc), "error", anchor="#holds")
        return _back("retention.flash.hold_placed", anchor="#holds")


@router.post("/admin/retention/holds/{hold_id}/release")
async def release_hold(request: Request, hold_id: str) -> Response:
    form = await request.form()
    with staff_page(request, "retention.manage", csrf=str(form.get("csrf_token", ""))) as page:
        try:
            hold = holds.get(page.session, hold_id[:36])
            holds.release(page.session, page.principal, hold, str(form.get("note", ""))[:2000])
        except PrivasiError as exc:
            undo(page.session)
            return _back(error_key(exc), "error", anchor="#holds")
        return _back("retention.flash.hold_released", anchor="#holds")
