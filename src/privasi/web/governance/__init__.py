"""The governance pages of the staff dashboard: consent, policy, records of processing, audit log
and API keys. ``router`` is what the app mounts; every page goes through ``privasi.web.staff``."""

from __future__ import annotations

from fastapi import APIRouter

from privasi.web.governance import (
    audit_pages,
    consent_pages,
    keys_pages,
    policy_pages,
    records_pages,
)

router = APIRouter(include_in_schema=False)
for _module in (consent_pages, policy_pages, records_pages, audit_pages, keys_pages):
    router.include_router(_module.router)
