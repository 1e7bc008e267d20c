"""``/admin/retention`` for staff: rules with what is due, runs with evidence, holds placed and
released through the forms; read-only roles see no forms; another organisation's hold cannot be
released from here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pyotp
from sqlalchemy import select

from privasi.jobs.models import Job
from privasi.orgs import service as orgs
from privasi.retention import holds
from privasi.retention import service as retention
from privasi.retention.models import LegalHold

from .conftest import T0, principal

PASSWORD = "kopi-susu-gula-aren-42"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(text: str) -> str:
    match = CSRF_RE.search(text)
    assert match
    return match.group(1)


def _sign_in(client: Any, db: Any, settings: Any, org_id: str, slug: str, role: str) -> None:
    with db.session(org_id) as s:
        user, _ = orgs.create_staff(
            s,
            settings,
            email=f"{role}@{slug}.contoh.test",
            role=role,
            name="Rina",
            password=PASSWORD,
        )
        secret, _ = orgs.start_totp_enrolment(s, settings, user, slug)
        user.totp_enabled = True
    form = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={
            "org": slug,
            "email": f"{role}@{slug}.contoh.test",
            "password": PASSWORD,
            "csrf_token": _csrf(form.text),
        },
        follow_redirects=False,
    )
    if response.headers["location"] == "/admin/login/totp":
        page = client.get("/admin/login/totp")
        code = pyotp.TOTP(secret).at(datetime.now(UTC))
        response = client.post(
            "/admin/login/totp",
            data={"code": code, "csrf_token": _csrf(page.text)},
            follow_redirects=False,
        )
    assert response.headers["location"] == "/admin"


def test_rules_runs_and_holds_for_a_dpo(db: Any, client: Any, settings: Any, business: Any) -> None:
    biz = business("cybernet")
    other = business("aspire")
    with db.session(other.org_id) as s:
        foreign = holds.place(
            s,
            principal(other.org_id),
            scope="system",
            target="core",
            reason="Audit lain",
            owner="X",
        )
        foreign_id = foreign.id
    retention.run_all(db, biz.org_id, now=T0, owner="test")
    _sign_in(client, db, settings, biz.org_id, biz.slug, "dpo")

    page = client.get("/admin/retention", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert (
        'data-testid="retention-rules"' in page.text and 'data-rule="billing_records"' in page.text
    )
    assert (
        "the system&#39;s owner must act" in page.text or "the system's owner must act" in page.text
    )
    assert page.text.count('id="run-') == 6
    assert "Audit lain" not in page.text

    token = _csrf(page.text)
    placed = client.post(
        "/admin/retention/holds",
        data={
            "csrf_token": token,
            "scope": "category",
            "category": "billing",
            "reason": "Pemeriksaan pajak 2026",
            "owner": "Tim Keuangan",
        },
        follow_redirects=False,
    )
    assert placed.status_code == 303
    with db.session(biz.org_id) as s:
        (hold,) = holds.active(s)
        assert (hold.scope, hold.target, hold.owner) == ("category", "billing", "Tim Keuangan")
    shown = client.get("/admin/retention")
    assert "Pemeriksaan pajak 2026" in shown.text
    assert "tidak diproses karena ada penahanan hukum" in shown.text  # Indonesian by default

    refused = client.post(
        f"/admin/retention/holds/{foreign_id}/release",
        data={"csrf_token": token, "note": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    with db.session(other.org_id) as s:
        assert s.get(LegalHold, foreign_id).released_at is None

    released = client.post(
        f"/admin/retention/holds/{hold.id}/release",
        data={"csrf_token": token, "note": "selesai"},
        follow_redirects=False,
    )
    assert released.status_code == 303
    with db.session(biz.org_id) as s:
        assert holds.active(s) == []

    queued = client.post(
        "/admin/retention/runs",
        data={"csrf_token": token, "rule": "account"},
        follow_redirects=False,
    )
    assert queued.status_code == 303
    with db.session(system=True) as s:
        job = s.scalar(select(Job).where(Job.org_id == biz.org_id, Job.kind == "retention.sweep"))
        assert job is not None and job.payload["rule"] == "account"

    forged = client.post(
        "/admin/retention/holds",
        data={
            "csrf_token": "wrong",
            "scope": "system",
            "system": "billing",
            "reason": "r",
            "owner": "o",
        },
    )
    assert forged.status_code == 403


def test_an_auditor_reads_without_forms(db: Any, client: Any, settings: Any, business: Any) -> None:
    biz = business("tekino")
    _sign_in(client, db, settings, biz.org_id, biz.slug, "auditor")
    page = client.get("/admin/retention")
    assert page.status_code == 200
    assert 'action="/admin/retention/holds"' not in page.text
    token = _csrf(page.text)
    refused = client.post(
        "/admin/retention/holds",
        data={
            "csrf_token": token,
            "scope": "system",
            "system": "platform",
            "reason": "r",
            "owner": "o",
        },
    )
    assert refused.status_code == 403
    with db.session(biz.org_id) as s:
        assert holds.active(s) == []
    client.cookies.clear()
    assert client.get("/admin/retention", follow_redirects=False).status_code in (302, 303)
