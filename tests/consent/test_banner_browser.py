"""The cookie banner in Debian's Chromium, on a shop page served from another origin.

The page embeds the banner with one script tag and holds its analytics tag as
``<script type="text/plain" data-privasi-category="analytics">``, the way a business would. The
page server counts requests for the analytics script, so "not loaded" means never fetched.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from privasi.consent import service as consent
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.subjects import service as subjects

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SLUG = "toko-kain"
PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Toko Kain Contoh</title>
<script src="{privasi}/consent/{slug}/banner.js"></script>
<script type="text/plain" data-privasi-category="analytics" src="/analytics.js"></script>
</head><body><h1>Toko Kain Contoh</h1>
<p><a href="#" data-privasi-open>Atur cookie</a></p></body></html>
"""


def publish(db: Any, org_id: str, day: int = 1, advertising: bool = False) -> None:
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = SLUG
    doc["effective_date"] = f"2026-01-{day:02d}"
    if advertising:
        doc["cookies"].append({"category": "advertising"})
    source = yaml.safe_dump(doc, allow_unicode=True)
    policies.load_and_publish(db, org_id, system_principal(org_id), source, "t.yaml")


@pytest.fixture
def privasi_url(db: Any, make_org: Any, live_server: str) -> str:
    publish(db, make_org(SLUG).id)
    return live_server


@pytest.fixture
def shop(privasi_url: str) -> Iterator[dict[str, Any]]:
    hits: list[str] = []
    page = PAGE.format(privasi=privasi_url, slug=SLUG).encode()

    class Shop(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if self.path == "/analytics.js":
                body, kind = (
                    b"window.analyticsRuns = (window.analyticsRuns || 0) + 1;",
                    "text/javascript",
                )
            else:
                body, kind = page, "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("localhost", 0), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://localhost:{server.server_address[1]}/", "hits": hits}
    finally:
        server.shutdown()


def _server_reason(db: Any, visitor: str, category: str = "analytics") -> str | None:
    with db.session(_org_id(db)) as s:
        subject = subjects.find_by_identifier(s, "visitor", visitor)
        if subject is None:
            return None
        return consent.check(s, [subject.id], consent.cookie_purpose(category))[0].reason


def _org_id(db: Any) -> str:
    from privasi.orgs import service as orgs

    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, SLUG).id


def _wait_for(db: Any, visitor: str, expected: str) -> None:
    deadline = time.monotonic() + 10
    while _server_reason(db, visitor) != expected:
        assert time.monotonic() < deadline, f"the server did not record '{expected}'"
        time.sleep(0.1)


def _visitor(page: Any) -> str:
    stored = page.evaluate(f"JSON.parse(localStorage.getItem('privasi:{SLUG}'))")
    assert stored and stored["visitor"], "the choice is kept in the browser"
    return str(stored["visitor"])


@pytest.mark.browser
def test_banner_keeps_analytics_off_until_accepted_and_honours_gpc(
    chromium: Any, db: Any, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    hits: list[str] = shop["hits"]
    browser = chromium
    # --- reject all: analytics never fetched, recorded, and still so after a reload
    context = browser.new_context(locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(shop["url"])
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Situs ini menggunakan cookie")
    accept = page.get_by_role("button", name="Terima semua")
    reject = page.get_by_role("button", name="Tolak semua")
    choose = page.get_by_role("button", name="Pilih sendiri")
    # Equal prominence: the three answers have the same size and colours.
    boxes = [b.bounding_box() for b in (accept, reject, choose)]
    assert len({(round(b["height"]), round(b["width"] / 10)) for b in boxes}) == 1
    styles = [
        b.evaluate("e => getComputedStyle(e).backgroundColor + getComputedStyle(e).color")
        for b in (accept, reject, choose)
    ]
    assert len(set(styles)) == 1
    assert page.evaluate("window.privasi.consent.analytics") is False
    reject.click()
    expect(dialog).to_be_hidden()
    visitor = _visitor(page)
    _wait_for(db, visitor, "withdrawn")
    page.reload()
    expect(page.get_by_role("button", name="Preferensi cookie")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("window.privasi.consent.analytics") is False
    assert "/analytics.js" not in hits
    assert page.evaluate("window.analyticsRuns") is None

    # --- changing one's mind through the reopen link: accept all loads analytics
    page.get_by_role("link", name="Atur cookie").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.evaluate(
        "document.addEventListener('privasi:consent', e => window.lastConsent = e.detail)"
    )
    page.get_by_role("button", name="Terima semua").click()
    page.wait_for_function("window.analyticsRuns === 1")
    assert page.evaluate("window.lastConsent.analytics") is True
    _wait_for(db, visitor, "consent")
    assert _visitor(page) == visitor  # the same pseudonymous visitor
    page.reload()
    page.wait_for_function("window.analyticsRuns === 1")
    expect(page.get_by_role("dialog")).to_be_hidden()

    # --- a new kind of cookie in the policy: the banner asks again, nothing runs first
    publish(db, org_id=_org_id(db), day=2, advertising=True)
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("Cookie iklan")
    assert page.evaluate("window.privasi.consent.analytics") is False
    assert page.evaluate("window.analyticsRuns") is None
    assert not errors, errors
    context.close()

    # --- GPC on: the banner says so and accept all still keeps analytics off
    hits.clear()
    context = browser.new_context(locale="en-US", extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page = context.new_page()
    page.goto(shop["url"])
    expect(page.get_by_test_id("gpc-note")).to_be_visible()
    page.get_by_role("button", name="Terima semua").click()
    visitor = _visitor(page)
    _wait_for(db, visitor, "withdrawn")
    assert _server_reason(db, visitor, "preference") == "consent"
    page.reload()
    assert page.evaluate("window.privasi.consent.analytics") is False
    assert "/analytics.js" not in hits
    context.close()
