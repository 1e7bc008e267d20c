"""``/admin/policy``: stored versions, one version's notice and file, the diff between two
versions with material changes marked, uploading a draft and publishing it."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import Response

from privasi.errors import InvalidTransition, NotFound, ValidationFailed
from privasi.policy import service as policies
from privasi.policy.diff import Change
from privasi.policy.loader import PolicyError
from privasi.policy.models import PolicyVersion
from privasi.policy.render import render_notice
from privasi.web.common import FormText
from privasi.web.governance.common import times
from privasi.web.i18n import request_language
from privasi.web.render import flash, redirect
from privasi.web.staff import PageExit, StaffPage, StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

BASE = "/admin/policy"
# A policy file is a few dozen kilobytes; the app's body limit applies before this one.
MAX_SOURCE_CHARS = 512_000
SHORT_VALUE = 160


def _version(page: StaffPage, number: int) -> PolicyVersion:
    try:
        return policies.get_version(page.session, str(number))
    except NotFound:
        raise _not_found(page) from None


def _not_found(page: StaffPage) -> Exception:
    context = {
        "title_key": "governance.policy.not_found_title",
        "body_key": "governance.policy.not_found_body",
    }
    return PageExit(page.render("error.html", context, status_code=404))


def _rows(page: StaffPage) -> list[dict[str, Any]]:
    current = policies.current_version(page.session)
    return [
        {
            "number": v.number,
            "status": v.status,
            "effective_date": v.effective_date,
            "published_at": v.published_at,
            "created_at": v.created_at,
            "current": current is not None and v.id == current.id,
        }
        for v in policies.list_versions(page.session)
    ]


def _list(
    page: StaffPage,
    *,
    error: str | None = None,
    problems: list[str] | None = None,
    source: str = "",
    status: int = 200,
) -> Response:
    return page.render(
        "admin/policy/list.html",
        {
            **times(page.org),
            "versions": _rows(page),
            "can_manage": page.can("policy.manage"),
            "error": error,
            "problems": problems or [],
            "source": source,
        },
        status_code=status,
    )


@router.get(BASE)
def versions(request: Request) -> Response:
    with staff_page(request, "policy.read") as page:
        return _list(page)


@router.post(BASE)
def upload(
    request: Request,
    csrf_token: FormText = "",
    source: FormText = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    with staff_page(request, "policy.manage", csrf=csrf_token) as page:
        name = "upload"
        if file is not None and file.filename:
            raw = file.file.read(MAX_SOURCE_CHARS + 1)
            name = file.filename[:100]
            try:
                source = raw.decode("utf-8")
            except UnicodeDecodeError:
                return _list(page, error="governance.policy.not_utf8", status=400)
        if not source.strip():
            return _list(page, error="governance.policy.empty", status=400)
        if len(source) > MAX_SOURCE_CHARS:
            return _list(page, error="governance.policy.too_large", status=400)
        try:
            version = policies.create_draft(page.session, page.principal, source, name)
        except PolicyError as exc:
            # Line numbers and paths point into the file the person just chose: shown as they are.
            return _list(
                page,
                error="governance.policy.invalid",
                problems=[str(p) for p in exc.problems],
                source=source,
                status=400,
            )
        except ValidationFailed as exc:
            return _list(
                page,
                error="governance.policy.invalid",
                problems=[exc.detail or ""],
                source=source,
                status=400,
            )
        response = redirect(f"{BASE}/{version.number}")
        flash(response, "governance.policy.uploaded", "success", number=version.number)
        return response


@router.get(BASE + "/{number}")
def show(number: int, request: Request) -> Response:
    lang, _ = request_language(request)
    with staff_page(request, "policy.read") as page:
        version = _version(page, number)
        policy = policies.to_policy(page.session, version)
        others = [v.number for v in policies.list_versions(page.session) if v.number != number]
        current = policies.current_version(page.session)
        material: int | None = None
        if version.status == "draft" and current is not None:
            # What publishing would change for people, shown before the button is pressed.
            material = len(policies.diff_versions(page.session, current, version).material)
        return page.render(
            "admin/policy/version.html",
            {
                **times(page.org),
                "version": version,
                "notice_html": render_notice(policy, lang, "html", fragment=True),
                "others": others,
                "previous": max((n for n in others if n < number), default=None),
                "can_publish": page.can("policy.manage") and version.status == "draft",
                "current_number": current.number if current is not None else None,
                "material": material,
                "today": policies.org_today(page.org).isoformat(),
            },
        )


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHORT_VALUE else text[: SHORT_VALUE - 1] + "…"


def _change_row(change: Change) -> dict[str, Any]:
    return {
        "path": change.path,
        "kind": change.kind,
        "old": _short(change.old),
        "new": _short(change.new),
        "material": change.material,
        "reason": change.reason,
    }


@router.get(BASE + "/{number}/diff")
def diff(number: int, request: Request) -> Response:
    with staff_page(request, "policy.read") as page:
        new = _version(page, number)
        against_raw = request.query_params.get("against", "")
        others = [v.number for v in policies.list_versions(page.session) if v.number != number]
        if against_raw.isdigit():
            against = int(against_raw)
        else:
            against = max((n for n in others if n < number), default=0)
        if against == 0:
            response = redirect(f"{BASE}/{number}")
            flash(response, "governance.policy.nothing_to_compare", "info")
            return response
        old = _version(page, against)
        changes = policies.diff_versions(page.session, old, new).changes
        # Material changes first: they are what must be told to people before the new terms apply.
        rows = sorted((_change_row(c) for c in changes), key=lambda r: not r["material"])
        return page.render(
            "admin/policy/diff.html",
            {
                "old": old,
                "new": new,
                "changes": rows,
                "material_count": sum(1 for r in rows if r["material"]),
                "others": others,
            },
        )


@router.post(BASE + "/{number}/publish")
def publish(
    number: int, request: Request, csrf_token: FormText = "", effective_date: FormText = ""
) -> Response:
    with staff_page(request, "policy.manage", csrf=csrf_token) as page:
        version = _version(page, number)
        response = redirect(f"{BASE}/{number}")
        try:
            when = date.fromisoformat(effective_date) if effective_date.strip() else None
        except ValueError:
            flash(response, "governance.policy.bad_date", "error")
            return response
        try:
            published = policies.publish(page.session, page.principal, version, when)
        except InvalidTransition:
            flash(response, "governance.policy.already_published", "error")
            return response
        except ValidationFailed:
            flash(response, "governance.policy.date_in_past", "error")
            return response
        material = len(published.diff.material) if published.diff else 0
        assert published.version.effective_date is not None
        flash(
            response,
            "governance.policy.published_material" if material else "governance.policy.published",
            "success",
            number=number,
            date=published.version.effective_date.strftime("%d-%m-%Y"),
            count=material,
        )
        return response
