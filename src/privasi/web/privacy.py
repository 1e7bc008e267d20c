"""The public privacy notice of an organisation: ``/privacy/{org_slug}``, with its version history.

Anyone may read it, so it needs no session. The notice itself comes from the published policy
version in effect (``privasi.policy``), rendered in the reader's language.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import NotFound
from privasi.policy import service as policies
from privasi.policy.render import render_notice
from privasi.web.common import db_of
from privasi.web.i18n import request_language
from privasi.web.render import HtmlRoute, render

router = APIRouter(include_in_schema=False, route_class=HtmlRoute)


def _page(request: Request, slug: str, number: int | None) -> Response:
    lang, _ = request_language(request)
    try:
        notice = policies.public_notice(db_of(request), slug, number)
    except NotFound:
        missing = {"title_key": "privacy.missing.title", "body_key": "privacy.missing.body"}
        return render(request, "privacy/missing.html", missing, status_code=404)
    today = policies.org_today(notice.org)
    current_id = notice.current_id
    history: list[dict[str, object]] = [
        {
            "number": v.number,
            "effective_date": v.effective_date.isoformat() if v.effective_date else "",
            "current": v.id == current_id,
            "upcoming": v.effective_date is not None and v.effective_date > today,
            "shown": v.id == notice.version.id,
        }
        for v in notice.history
    ]
    context: dict[str, object] = {
        "org_slug": notice.org.slug,
        "org_name": notice.org.name,
        "notice_html": render_notice(notice.policy, lang, "html", fragment=True),
        "history": history,
        "is_current": notice.version.id == current_id,
    }
    response = render(request, "privacy/notice.html", context)
    # Public and the same for everyone in a language: caches may keep it for a short while.
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@router.get("/privacy/{org_slug}")
def notice(org_slug: str, request: Request) -> Response:
    return _page(request, org_slug, None)


@router.get("/privacy/{org_slug}/versions/{number}")
def notice_version(org_slug: str, number: int, request: Request) -> Response:
    return _page(request, org_slug, number)
