"""The privacy officer's dashboard: home, staff, requests and subjects. ``router`` is what the app
includes; each page goes through the staff guard (``privasi.web.staff``)."""

from __future__ import annotations

from fastapi import APIRouter

from privasi.web.admin import home, request_steps, requests_pages, staff_pages, subjects_pages

router = APIRouter(include_in_schema=False)
for _module in (home, staff_pages, requests_pages, request_steps, subjects_pages):
    router.include_router(_module.router)
