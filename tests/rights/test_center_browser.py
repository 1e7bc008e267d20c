"""The public request form and its verification step in Debian's Chromium.

A person on record asks for erasure: picks the request, types the address, gets a code, types a
wrong one first, then the right one, and lands on the request's status page. Someone not on
record sees the very same code page and cannot get further. People are fictional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from privasi.notify import service as notify
from privasi.notify.models import OutboxMessage
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.rights.models import RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.service import vault_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SLUG = "kedai-kopi"
EMAIL = "bayu.santoso@contoh.example"


@pytest.fixture
def privasi_url(db: Any, make_org: Any, live_server: str) -> str:
    org = make_org(SLUG)
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = SLUG
    doc["effective_date"] = "2026-01-01"
    policies.load_and_publish(
        db, org.id, system_principal(org.id), yaml.safe_dump(doc, allow_unicode=True), "t.yaml"
    )
    with db.session(org.id) as s:
        subjects.find_or_create(s, system_principal(org.id), {"email": EMAIL})
    return live_server


def _org_id(db: Any) -> str:
    from privasi.orgs import service as orgs

    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, SLUG).id


def _codes(db: Any) -> list[str]:
    with db.session(_org_id(db)) as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "verification_code")
            .order_by(OutboxMessage.created_at)
        ).all()
        return [str(notify.open_payload(vault_for(s), m)["params"]["code"]) for m in rows]


def _requests(db: Any) -> list[RightsRequest]:
    with db.session(_org_id(db)) as s:
        return list(s.scalars(select(RightsRequest)))


@pytest.mark.browser
def test_a_person_asks_for_erasure_and_proves_it_is_them(
    chromium: Any, db: Any, privasi_url: str
) -> None:
    from playwright.sync_api import expect

    browser = chromium
    context = browser.new_context(locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{privasi_url}/privacy/{SLUG}/request")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajukan permintaan privasi")
    # The browser's own validation: nothing is sent without a choice of request.
    page.get_by_role("button", name="Kirimi saya kode").click()
    assert page.url.endswith(f"/privacy/{SLUG}/request")
    assert _codes(db) == []

    # Someone not on record: the same code page, and no code can work.
    page.get_by_label("Hapus data saya").check()
    page.get_by_label("Alamat email atau nomor telepon yang tercatat").fill(
        "orang.lain@contoh.example"
    )
    page.get_by_role("button", name="Kirimi saya kode").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Masukkan kode Anda")
    unknown_page = page.locator("main").inner_text()
    page.get_by_label("Kode 6 digit").fill("123456")
    page.get_by_role("button", name="Kirim permintaan saya").click()
    expect(page.get_by_role("alert")).to_contain_text("Kode tidak benar")
    assert _requests(db) == []

    # The person on record.
    page.goto(f"{privasi_url}/privacy/{SLUG}/request")
    page.get_by_label("Hapus data saya").check()
    page.get_by_label("Alamat email atau nomor telepon yang tercatat").fill(EMAIL)
    page.get_by_label("Keterangan lain (tidak wajib)").fill("Akun member kedai")
    page.get_by_role("button", name="Kirimi saya kode").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Masukkan kode Anda")
    assert page.locator("main").inner_text() == unknown_page
    assert EMAIL not in page.content()
    [code] = _codes(db)
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_label("Kode 6 digit").fill(wrong)
    page.get_by_role("button", name="Kirim permintaan saya").click()
    expect(page.get_by_role("alert")).to_contain_text("Sisa percobaan Anda 4 kali")
    page.get_by_label("Kode 6 digit").fill(code)
    page.get_by_role("button", name="Kirim permintaan saya").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Permintaan REQ-000001")
    expect(page.locator("[data-status]")).to_contain_text("Hapus data saya")
    expect(page.locator("[data-status]")).to_contain_text("Sedang diproses")
    assert f"/privacy/{SLUG}/request/" in page.url
    [request] = _requests(db)
    assert (request.type, request.channel) == ("erasure", "privacy_center")
    assert request.verification_method == "email_code"

    # The status page reads the same in English and keeps working from its link.
    page.goto(page.url + "?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request REQ-000001")
    expect(page.locator("[data-status]")).to_contain_text("Erase my data")
    # The wrong codes answer 422, which Chromium logs; no script may fail.
    assert [e for e in errors if "status of 422" not in e] == []
    context.close()
