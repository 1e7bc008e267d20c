"""Texts the dashboard picks by a value (``m.label(prefix, value)``): a template scan cannot see
them, so every value each prefix takes is checked here, in both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from privasi.orgs.models import StaffRole
from privasi.rights import execution
from privasi.rights.models import CHANNELS, REQUEST_TYPES, REQUESTER_KINDS, STATUSES, TASK_STATUSES
from privasi.subjects.identifiers import IDENTIFIER_KINDS
from privasi.web import TEMPLATES_DIR
from privasi.web.admin import charts
from privasi.web.admin.requests_pages import CODE_CHANNELS
from privasi.web.i18n import LANGUAGES, catalogue

VALUES: dict[str, tuple[str, ...]] = {
    "admin.requests.status.": STATUSES,
    "admin.requests.types.": REQUEST_TYPES,
    "admin.requests.channels.": (*CHANNELS, *CODE_CHANNELS),
    "admin.requests.requesters.": REQUESTER_KINDS,
    "admin.requests.basis.": ("law", "policy"),
    "admin.requests.methods.": (
        "email_code",
        "whatsapp_code",
        "phone_code",
        "account_login",
        "staff_review",
        "meta_signed_request",
    ),
    "admin.requests.kinds.": ("privasi", "manual", "sql", "http"),
    "admin.requests.actions.": (
        *set(execution.ACTIONS.values()),
        "notify_recipients",  # privasi's own task of a correction
        "notify_recipient",  # the checklist task it makes for each recipient
    ),
    "admin.requests.task_status.": TASK_STATUSES,
    "admin.chart.outcome.": charts.OUTCOMES,
    "admin.home.channel.": ("email", "whatsapp", "webhook"),
    "admin.home.severity.": ("low", "medium", "high", "critical"),
    "admin.home.breach_status.": ("detected", "confirmed", "notifying", "closed", "dismissed"),
    "admin.home.run_status.": ("running", "done", "failed"),
    "admin.home.hold_scope.": ("subject", "category", "system"),
    "admin.staff.role_help.": tuple(r.value for r in StaffRole),
    "admin.subjects.kinds.": IDENTIFIER_KINDS,
    "admin.subjects.consent_status.": ("granted", "withdrawn", "expired"),
    "admin.subjects.states.": ("active", "erased", "merged"),
}
LABEL_RE = re.compile(r"""label\(\s*'(admin\.[a-z_.]+\.)'""")  # this dashboard's own prefixes


def test_the_breach_and_retention_values_are_the_ones_their_services_use() -> None:
    from privasi.breach import models as breach
    from privasi.retention import holds

    assert set(breach.SEVERITIES) <= set(VALUES["admin.home.severity."])
    assert set(breach.STATUSES) <= set(VALUES["admin.home.breach_status."])
    assert set(holds.SCOPES) <= set(VALUES["admin.home.hold_scope."])


def test_every_value_of_every_label_prefix_is_written_in_both_languages() -> None:
    strings = catalogue()
    for prefix, values in VALUES.items():
        for value in values:
            for lang in LANGUAGES:
                assert f"{prefix}{value}" in strings[lang], (lang, prefix, value)


def test_every_prefix_the_templates_use_is_checked_here() -> None:
    used = {
        match.group(1)
        for path in Path(TEMPLATES_DIR).rglob("*.html")
        for match in LABEL_RE.finditer(path.read_text(encoding="utf-8"))
    }
    assert used, "the scan finds the label calls"
    assert used <= set(VALUES), sorted(used - set(VALUES))


def test_every_page_renders_without_a_missing_text_in_both_languages(
    client: Any, pages: Any, signed_in: Any, shop: Any, db: Any, caplog: Any
) -> None:
    import logging

    from privasi.rights import execution

    correction = shop.request(db, "rectification", details={"changes": {"email": "b@contoh.id"}})
    erasure = shop.request(db, "erasure")
    owner = signed_in("owner")
    page = f"/admin/requests/{correction}"
    pages.post_form(f"{page}/verify", {"note": "Dicek."}, page=page)
    pages.post_form(f"{page}/approve", {}, page=page)
    execution.run_tasks(db, correction)
    urls = [
        "/admin",
        "/admin/requests",
        page,
        f"/admin/requests/{erasure}",
        "/admin/subjects",
        f"/admin/subjects/{shop.customer_id}",
        "/admin/staff",
        f"/admin/staff/{owner.user_id}",
        "/admin/account",
    ]
    caplog.set_level(logging.WARNING, logger="privasi.web")
    for lang in LANGUAGES:
        for url in urls:
            answer = client.get(url, params={"lang": lang})
            assert answer.status_code == 200, url
    missing = sorted({(r.lang, r.key) for r in caplog.records if hasattr(r, "key")})
    assert missing == []
