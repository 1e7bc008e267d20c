"""``/admin/consent``: consents standing per purpose, and grants and withdrawals over time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.consent import evidence
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.policy import service as policies
from privasi.web.governance import stats
from privasi.web.governance.common import times, zone_of
from privasi.web.i18n import request_language
from privasi.web.staff import StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)


def _choice(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


def purpose_names(session: PrivasiSession, lang: str) -> dict[str, str]:
    """Purpose names from the policy in effect; a purpose it no longer has shows by its id."""
    try:
        policy = policies.current_policy(session)
    except NotFound:
        return {}
    return {p.id: p.name.get(lang) for p in policy.purposes}


@router.get("/admin/consent")
def consent_overview(request: Request) -> Response:
    with staff_page(request, "consent.read") as page:
        query = request.query_params
        try:
            days = int(query.get("days", "30"))
        except ValueError:
            days = 30
        # Filters are only ever values already in the ledger: anything else typed into the URL
        # shows everything rather than an empty page.
        purposes, channels = stats.ledger_values(page.session)
        purpose = _choice(query.get("purpose"), purposes)
        channel = _choice(query.get("channel"), channels)
        series = stats.consent_series(
            page.session,
            utcnow(),
            str(zone_of(page.org)),
            days=days,
            purpose=purpose,
            channel=channel,
        )
        return page.render(
            "admin/consent/overview.html",
            {
                **times(page.org),
                "purpose_names": purpose_names(page.session, request_language(request)[0]),
                "standing": evidence.summary(page.session),
                "series": series,
                "chart": stats.bar_chart(series),
                "actions": stats.ACTIONS,
                "periods": stats.PERIODS,
                "purposes": purposes,
                "channels": channels,
                "purpose": purpose or "",
                "channel": channel or "",
            },
        )
