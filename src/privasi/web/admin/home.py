"""``/admin``: what needs attention now (request clocks, breaches, failed deliveries, retention),
and the organisation card that was the whole home page before the dashboard."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.orgs import service as orgs
from privasi.orgs.models import Organisation, OrgRole, StaffUser
from privasi.rights import service as rights
from privasi.web.admin import dashboard
from privasi.web.admin.views import page_tools
from privasi.web.common import db_of
from privasi.web.staff import StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

API_DOCS_URL = "/docs"


@router.get("/admin")
def home(request: Request) -> Response:
    db = db_of(request)
    with staff_page(request) as page:
        with db.session(system=True) as system:
            user = system.get(StaffUser, page.user_id)
            home_org = system.get(Organisation, page.principal.home_org_id)
            assert user is not None and home_org is not None
            totp_enabled = user.totp_enabled
            home_org_view = {"id": home_org.id, "name": home_org.name, "slug": home_org.slug}
            is_processor = home_org.role == OrgRole.processor
        hosted = orgs.hosted_orgs(db, home_org_view["id"]) if is_processor else []
        tools = page_tools(page)
        context = {
            **tools,
            "attention": dashboard.gather(page, tools["now"]),
            "home_org": home_org_view,
            "role": page.role,
            "totp_enabled": totp_enabled,
            "hosted": hosted,
            "is_processor": is_processor,
            "docs_url": API_DOCS_URL,
            "number": rights.display_number,
        }
        return page.render("admin/home.html", context)
