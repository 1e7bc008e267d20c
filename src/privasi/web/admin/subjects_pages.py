"""``/admin/subjects``: find a data subject by e-mail address or phone number through the blind
indexes (the database holds no plain identifier to search), and a subject's page with their
identifiers, consent history and requests.

The search is a POST: an address typed into it never lands in a URL, a browser history or an
access log.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.consent import service as consent
from privasi.errors import NotFound, ValidationFailed
from privasi.rights import service as rights
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject
from privasi.web.admin.views import not_found, page_lang, page_tools
from privasi.web.common import FormText
from privasi.web.staff import StaffPage, StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

RECENT = 25


def search_kind(query: str) -> str:
    """E-mail when it has an @, else a phone number (the WhatsApp twin is looked up with it)."""
    return "email" if "@" in query else "phone"


def find(page: StaffPage, query: str) -> Subject | None:
    query = query.strip()[:254]
    if not query:
        raise ValidationFailed("empty search")
    return subjects.find_by_identifier(page.session, search_kind(query), query)


def purpose_names(page: StaffPage) -> dict[str, str]:
    """Purpose ids to their names in the page's language; empty without a published policy."""
    from privasi.consent.purposes import policy_in_effect

    try:
        policy, _ = policy_in_effect(page.session)
    except NotFound:
        return {}
    lang = page_lang(page.request)
    return {p.id: p.name.get(lang) for p in policy.purposes}


def _list_page(page: StaffPage, **extra: object) -> Response:
    recent, _ = subjects.list_subjects(page.session, limit=RECENT)
    context = {**page_tools(page), "recent": recent, "searched": False, "error": None}
    context.update(extra)
    status = 400 if extra.get("error") else 200
    return page.render("admin/subjects/list.html", context, status_code=status)


@router.get("/admin/subjects")
def subject_list(request: Request) -> Response:
    with staff_page(request, "subjects.read") as page:
        return _list_page(page)


@router.post("/admin/subjects/search")
def subject_search(request: Request, q: FormText = "", csrf_token: FormText = "") -> Response:
    with staff_page(request, "subjects.read", csrf=csrf_token) as page:
        try:
            found = find(page, q)
        except ValidationFailed:
            return _list_page(page, error="admin.subjects.invalid")
        return _list_page(page, searched=True, found=found)


@router.get("/admin/subjects/{subject_id}")
def subject_detail(request: Request, subject_id: str) -> Response:
    with staff_page(request, "subjects.read") as page:
        try:
            subject = subjects.get_subject(page.session, subject_id[:36])
        except NotFound:
            raise not_found(request) from None
        # A read of personal data: audited, and part of the subject's own processing record.
        identifiers = subjects.read_identifiers(page.session, page.principal, subject)
        show_consent = page.can("consent.read")
        history = consent.history(page.session, subject.id) if show_consent else []
        requests = (
            rights.list_requests(
                page.session, subject_id=subject.id, order="newest", limit=100
            ).items
            if page.can("requests.read")
            else None
        )
        context = {
            **page_tools(page),
            "subject": subject,
            "identifiers": identifiers,
            "show_consent": show_consent,
            "states": consent.current_states(page.session, subject.id) if show_consent else [],
            "history": list(reversed(history)),
            "requests": requests,
            "number": rights.display_number,
            "purpose_names": purpose_names(page) if show_consent else {},
        }
        return page.render("admin/subjects/detail.html", context)
