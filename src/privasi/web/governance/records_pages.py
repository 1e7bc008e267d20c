"""``/admin/records``: the records of processing activities (UU PDP Pasal 31), and as CSV."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from starlette.responses import Response

from privasi.errors import NotFound
from privasi.policy import service as policies
from privasi.policy.catalogue import Phrases
from privasi.policy.models import PolicyVersion
from privasi.policy.ropa import ropa_csv, ropa_rows
from privasi.web.i18n import request_language, t
from privasi.web.staff import StaffPage, StaffRoute, staff_page

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

# The table shows what a reader needs; the CSV keeps every column, ids included.
SHOWN = (
    "purpose",
    "legal_basis",
    "category",
    "sensitivity",
    "data_subjects",
    "recipient",
    "countries",
    "transfer_safeguard",
    "retention",
    "systems",
)


def readable(row: dict[str, str], lang: str) -> dict[str, str]:
    """The table's words in the page language: the CSV keeps the policy's codes for machines."""
    words = Phrases(lang)

    def phrase(key: str, fallback: str) -> str:
        return words(key) if words.has(key) else fallback

    out = dict(row)
    out["legal_basis"] = phrase(f"basis.{row['legal_basis']}", row["legal_basis"])
    sensitivity = row["sensitivity"]
    if sensitivity == "general":
        out["sensitivity"] = t("governance.records.general", lang)
    elif sensitivity == "specific":
        out["sensitivity"] = t("governance.records.specific", lang)
    else:
        out["sensitivity"] = phrase(f"collect.specific_kind.{sensitivity}", sensitivity)
    if row["transfer_safeguard"]:
        safeguard = row["transfer_safeguard"]
        out["transfer_safeguard"] = phrase(f"safeguard.{safeguard}", safeguard)
    if row["countries"]:
        out["countries"] = ", ".join(words.country(c) for c in row["countries"].split(", "))
    return out


def _chosen(page: StaffPage, request: Request) -> PolicyVersion | None:
    """The version asked for (``?version=N``, published ones only), else the one in effect."""
    asked = request.query_params.get("version", "")
    if asked.isdigit():
        try:
            version = policies.get_version(page.session, asked)
        except NotFound:
            return None
        return version if version.status == "published" else None
    return policies.current_version(page.session)


@router.get("/admin/records")
def records(request: Request) -> Response:
    lang, _ = request_language(request)
    with staff_page(request, "policy.read") as page:
        version = _chosen(page, request)
        rows = []
        if version is not None:
            policy = policies.to_policy(page.session, version)
            rows = [readable(asdict(r), lang) for r in ropa_rows(policy, lang)]
        return page.render(
            "admin/records/list.html",
            {
                "version": version,
                "rows": rows,
                "columns": SHOWN,
                "published": [v.number for v in policies.history(page.session)],
            },
            status_code=404 if version is None and "version" in request.query_params else 200,
        )


@router.get("/admin/records.csv")
def records_csv(request: Request) -> Response:
    lang, _ = request_language(request)
    with staff_page(request, "policy.read") as page:
        version = _chosen(page, request)
        if version is None:
            return page.render(
                "admin/records/list.html",
                {"version": None, "rows": [], "columns": SHOWN, "published": []},
                status_code=404,
            )
        text = ropa_csv(policies.to_policy(page.session, version), lang)
        filename = f"records-of-processing-{page.org.slug}-v{version.number}-{lang}.csv"
        # A BOM so spreadsheet programs read the Indonesian text as UTF-8.
        return Response(
            "\ufeff" + text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
