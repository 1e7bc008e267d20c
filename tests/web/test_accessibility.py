"""axe-core on every page: each GET page route under /admin and /privacy, found from the app.

One Chromium walks a seeded organisation (a published policy and a draft, a data subject with a
consent, a rights request, staff): the sign-in steps, every staff page as an owner and, where an
owner may not look, as a data protection officer, and the privacy center before and after a
visitor proves who they are. No axe rule is turned off; any serious or critical violation fails
the test with the page, the rule and the elements. A page route whose path parameter this module
cannot fill fails too, so a new page is never silently left out: add its parameter to ``fill``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml
from fastapi.routing import APIRoute
from sqlalchemy import select

from privasi.db import Database
from privasi.orgs.service import system_principal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digimetalab.yaml"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "axe"
BLOCKING = {"serious", "critical"}
EMAIL = "wulan.pratiwi@contoh.test"
PARAM_RE = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")
# Downloads and machine answers behind /admin: not pages a person reads in the browser.
NOT_PAGES = (".csv", ".json", ".zip")


def page_routes(app: Any) -> list[str]:
    """Every GET route of the app under /admin or /privacy that answers with a page."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        routes = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = list(iter_route_contexts(app.routes))
    found = set()
    for route in routes:
        path = getattr(route, "path", None)
        if not path or "GET" not in (getattr(route, "methods", None) or ()):
            continue
        # ``name.{fmt}`` routes are file downloads, like the suffixes above.
        if (
            path.startswith(("/admin", "/privacy"))
            and not path.endswith(NOT_PAGES)
            and ".{" not in path
        ):
            found.add(path)
    return sorted(found)


def _source(slug: str, effective: str, reworded: bool = False) -> str:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = slug
    doc["effective_date"] = effective
    if reworded:
        for purpose in doc["purposes"]:
            if purpose["id"] == "marketing":
                purpose["categories"] = [*purpose["categories"], "location"]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def seed(db: Database, org_id: str, slug: str) -> dict[str, str]:
    """A policy in effect and a draft after it, a subject with a consent, a rights request."""
    from privasi.consent import service as consent
    from privasi.policy import service as policies
    from privasi.rights import service as rights
    from privasi.rights.records import status_token
    from privasi.subjects import service as subjects

    principal = system_principal(org_id)
    policies.load_and_publish(db, org_id, principal, _source(slug, "2026-01-01"), "p.yaml")
    with db.session(org_id) as s:
        draft = policies.create_draft(s, principal, _source(slug, "2026-01-01", True), "p2.yaml")
        subject = subjects.find_or_create(s, principal, {"email": EMAIL})
        proof = consent.Proof(None, "Saya setuju menerima promo.", "id", "web", "checkbox")
        consent.grant(s, principal, subject, "marketing", proof)
        request = rights.submit(
            s, principal, type="access", channel="api", identifiers={"email": EMAIL}
        )
        values = {
            "org_slug": slug,
            "number": str(draft.number),
            "published": str(draft.number - 1),
            "purpose_id": "marketing",
            "subject_id": subject.id,
            "request_id": request.id,
            "token": status_token(s, request),
        }
        values.update(_seed_others(s, principal))
        return values


def _seed_others(session: Any, principal: Any) -> dict[str, str]:
    """Objects of the other domains with pages of their own: a breach, a legal hold."""
    from privasi.breach import service as breaches
    from privasi.retention import holds

    breach = breaches.create(
        session, principal, title="Laptop kantor hilang di kereta", severity="medium"
    )
    hold = holds.place(
        session,
        principal,
        scope="category",
        target="payment",
        reason="Pemeriksaan pajak tahun 2025",
        owner="Tim keuangan",
    )
    return {"breach_id": breach.id, "hold_id": hold.id}


def _fill(path: str, values: dict[str, str]) -> str | None:
    if path.startswith("/privacy"):
        # The public notice shows published versions only; staff see the draft (and its diff).
        values = {**values, "number": values["published"]}
    missing = [name for name in PARAM_RE.findall(path) if name not in values]
    if missing:
        return None
    return PARAM_RE.sub(lambda m: values[m.group(1)], path)


class Checker:
    """Runs axe on the open page and keeps every blocking violation."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, page: Any, label: str, shot: str | None = None) -> None:
        results = self.axe.run(page)
        for violation in results.response["violations"]:
            if violation.get("impact") in BLOCKING:
                targets = [", ".join(map(str, n["target"])) for n in violation["nodes"]][:5]
                self.problems.append(
                    f"{label}: {violation['id']} ({violation['impact']}) at {targets}"
                )
        self.checked.append(label)
        # Named after the route, not its ids, so each run replaces the last run's pictures.
        name = re.sub(r"[^a-z0-9]+", "-", (shot or label).lower()).strip("-")[:80]
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _code_from_outbox(db: Database, org_id: str) -> str:
    from privasi.notify import service as notify
    from privasi.notify.models import OutboxMessage
    from privasi.vault.service import vault_for

    with db.session(org_id) as s:
        message = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "verification_code")
            .order_by(OutboxMessage.created_at.desc())
        ).first()
        assert message is not None, "a code was queued"
        return str(notify.open_payload(vault_for(s), message)["params"]["code"])


@pytest.mark.browser
def test_every_page_has_no_serious_accessibility_violation(
    chromium: Any, live_server: str, app: Any, db: Database, make_staff: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner = make_staff("owner", one_time_password=True, name="Dewi Lestari")
    dpo = make_staff("dpo", with_totp=True, name="Raka Putra")
    values = seed(db, owner.org_id, owner.org_slug)
    values["user_id"] = dpo.user_id
    routes = page_routes(app)
    unfilled = [path for path in routes if _fill(path, values) is None]
    assert not unfilled, f"add these path parameters to the seeded world: {unfilled}"
    assert "/admin/consent" in routes and "/privacy/{org_slug}" in routes

    axe = Checker()
    page = chromium.new_page(viewport={"width": 1100, "height": 800}, locale="id-ID")
    base = live_server
    # the checker really reports: an image without a text alternative is a critical violation
    page.set_content('<html lang="id"><title>x</title><main><img src="a.png"></main></html>')
    axe.check(page, "self-test")
    assert [p.split(" ")[1] for p in axe.problems] == ["image-alt"]
    axe.problems.clear()

    # sign-in steps: the login form, choosing a second factor, a new password
    page.goto(f"{base}/admin/login")
    axe.check(page, "login")
    page.fill("input[name=org]", owner.org_slug)
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", owner.password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/admin/mfa/setup")
    axe.check(page, "mfa-setup")
    secret = "".join(page.get_by_test_id("totp-secret").inner_text().split())
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/admin/password")
    axe.check(page, "password")
    new_password = "sambal-matah-bali-77"
    page.fill("input[name=password]", new_password)
    page.fill("input[name=password_confirm]", new_password)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/admin")

    def walk(who: str, only: list[str] | None = None) -> list[str]:
        closed = []
        for path in only if only is not None else routes:
            if not path.startswith("/admin") or path.startswith(("/admin/login", "/admin/mfa")):
                continue
            url = _fill(path, values)
            response = page.goto(f"{base}{url}")
            assert response is not None
            if response.status == 403:
                closed.append(path)
                continue
            assert response.status < 400, f"{url} answered {response.status}"
            if "text/html" in (response.headers.get("content-type") or ""):
                axe.check(page, f"{who} {url}", shot=f"{who} {path}")
        return closed

    closed = walk("owner")
    # pages that only exist after a form: a new API key shown once
    page.goto(f"{base}/admin/api-keys")
    page.fill("input[name=name]", "backend toko")
    page.check("input[name=scope][value='org.read']")
    page.locator("main form[action='/admin/api-keys'] button[type=submit]").click()
    page.get_by_test_id("new-token").wait_for()
    axe.check(page, "owner new API key")
    # the owner's second language too, on the pages most used
    for url in ("/admin?lang=en", "/admin/consent?lang=en"):
        page.goto(f"{base}{url}")
        axe.check(page, f"owner {url}")

    # a DPO opens what the owner may not (the audit log); the TOTP step on the way in
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login?lang=id")
    page.fill("input[name=org]", dpo.org_slug)
    page.fill("input[name=email]", dpo.email)
    page.fill("input[name=password]", dpo.password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/admin/login/totp")
    axe.check(page, "totp")
    page.fill("input[name=code]", dpo.code())
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/admin")
    still_closed = walk("dpo", closed)
    assert still_closed == [], f"pages neither an owner nor a DPO may open: {still_closed}"

    # the privacy center, as a visitor on a phone: before and after proving who they are
    page.context.clear_cookies()
    page.set_viewport_size({"width": 375, "height": 740})
    center = [p for p in routes if p.startswith("/privacy")]
    before = [p for p in center if "{purpose_id}" not in p]
    for path in before:
        url = _fill(path, values)
        response = page.goto(f"{base}{url}")
        assert response is not None and response.status < 400, url
        axe.check(page, f"visitor {url}", shot=f"visitor {path}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > 375:
            axe.problems.append(f"visitor {url}: the page is {wide}px wide on a 375px phone")
    slug = values["org_slug"]
    page.goto(f"{base}/privacy/{slug}/consent")
    page.fill("input[name=address]", EMAIL)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_selector("input[name=code]")
    axe.check(page, "visitor consent code")
    page.fill("input[name=code]", _code_from_outbox(db, owner.org_id))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**/privacy/{slug}/consent")
    axe.check(page, "visitor consent list")
    for path in center:
        if "{purpose_id}" in path:
            page.goto(f"{base}{_fill(path, values)}")
            axe.check(page, f"visitor {path}")
    page.goto(f"{base}/privacy/{slug}/request")
    page.check("input[name=type][value=access]")
    page.locator("input[name=address]").fill(EMAIL)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_selector("input[name=code]")
    axe.check(page, "visitor request code")

    print(f"axe checked {len(axe.checked)} pages:", *axe.checked, sep="\n  ")
    assert len(axe.checked) >= len(routes)
    assert not axe.problems, "axe found serious or critical violations:\n" + "\n".join(axe.problems)
