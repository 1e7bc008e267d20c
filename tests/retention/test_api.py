"""The retention API: plan, runs with evidence, report, clocks and holds; organisation B never
sees or touches organisation A's runs, holds or subjects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from privasi import worker
from privasi.retention import service as retention
from privasi.subjects import service as subjects

from .conftest import T0, naive, principal


def _setup(db: Any, business: Any) -> tuple[Any, Any]:
    a = business("aspire", "toko-a")
    b = business("aspire", "toko-b")
    old = naive(T0 - timedelta(days=365 * 6))
    a.insert(
        "core",
        "cards",
        [{"id": 1, "user_email": "a@contoh.example", "card_last4": "1111", "closed_at": old}],
    )
    return a, b


def _short(table: str | None) -> str | None:
    """A table's name without the schema it has on PostgreSQL."""
    return table.rpartition(".")[2] if table else table


def _headers(db: Any, org_id: str) -> dict[str, str]:
    from privasi.orgs import service as orgs
    from privasi.orgs.permissions import ALL_PERMISSIONS

    with db.session(org_id) as s:
        _, token = orgs.create_api_key(s, name="t", scopes=sorted(ALL_PERMISSIONS))
    return {"Authorization": f"Bearer {token}"}


def test_plan_run_report_and_holds_over_http(db: Any, client: Any, business: Any) -> None:
    a, b = _setup(db, business)
    ha, hb = _headers(db, a.org_id), _headers(db, b.org_id)
    plan = client.get("/api/v1/retention/plan", params={"at": T0.isoformat()}, headers=ha)
    assert plan.status_code == 200
    user_data = next(p for p in plan.json() if p["rule"] == "user_data")
    assert {(_short(i["table"]), i["due"]) for i in user_data["items"]} >= {
        ("cards", 1),
        ("users", 0),
    }

    queued = client.post("/api/v1/retention/runs", json={"rule": "user_data"}, headers=ha)
    assert queued.status_code == 202
    assert (
        client.post("/api/v1/retention/runs", json={"rule": "nope"}, headers=ha).status_code == 404
    )
    worker.tick(db)  # runs the queued sweep, and the daily one the reconciler scheduled
    runs = client.get("/api/v1/retention/runs", headers=ha).json()
    assert {r["rule"] for r in runs} == {"user_data", "visit_data", "marketing_preferences"}
    assert all(r["status"] == "done" for r in runs)
    ours = [r for r in runs if r["rule"] == "user_data"]
    assert sum(n for r in ours for k, n in r["counts"].items() if k.endswith("cards")) == 1
    run = client.get(f"/api/v1/retention/runs/{ours[0]['id']}", headers=ha).json()
    assert run["keys_digest"] == ours[0]["keys_digest"]

    report = client.get(
        "/api/v1/retention/report",
        params={"from": (T0 - timedelta(days=3650)).isoformat(), "to": "2099-01-01T00:00:00Z"},
        headers=ha,
    ).json()
    assert report["totals"]["runs"] == len(runs) and report["totals"]["deleted"] == 1
    assert all(r["audit_event"]["seq"] > 0 for r in report["runs"])

    # Organisation B sees none of it.
    theirs = client.get("/api/v1/retention/runs", headers=hb).json()
    assert {r["id"] for r in theirs}.isdisjoint({r["id"] for r in runs})
    assert all(r["deleted"] == 0 for r in theirs)  # B's own daily sweep found nothing of A's
    assert client.get(f"/api/v1/retention/runs/{runs[0]['id']}", headers=hb).status_code == 404
    b_report = client.get(
        "/api/v1/retention/report",
        params={"from": "2000-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"},
        headers=hb,
    ).json()
    assert {r["id"] for r in b_report["runs"]} == {r["id"] for r in theirs}

    hold = client.post(
        "/api/v1/retention/holds",
        json={"scope": "system", "target": "core", "reason": "Audit OJK", "owner": "Kepatuhan"},
        headers=ha,
    )
    assert hold.status_code == 201
    hold_id = hold.json()["id"]
    assert client.get(f"/api/v1/retention/holds/{hold_id}", headers=hb).status_code == 404
    assert (
        client.post(f"/api/v1/retention/holds/{hold_id}/release", json={}, headers=hb).status_code
        == 404
    )
    assert client.get("/api/v1/retention/holds", headers=hb).json() == []
    assert [h["id"] for h in client.get("/api/v1/retention/holds", headers=ha).json()] == [hold_id]
    released = client.post(
        f"/api/v1/retention/holds/{hold_id}/release", json={"note": "selesai"}, headers=ha
    )
    assert released.status_code == 200 and released.json()["released_at"]
    assert (
        client.post(f"/api/v1/retention/holds/{hold_id}/release", json={}, headers=ha).status_code
        == 409
    )


def test_clocks_and_holds_refuse_another_organisations_subject(
    db: Any, client: Any, business: Any
) -> None:
    a, b = _setup(db, business)
    ha, hb = _headers(db, a.org_id), _headers(db, b.org_id)
    with db.session(a.org_id) as s:
        subject_id = subjects.find_or_create(
            s, principal(a.org_id), {"email": "x@contoh.example"}
        ).id
    body = {"event": "account_closed", "occurred_at": T0.isoformat()}
    url = f"/api/v1/retention/subjects/{subject_id}/clocks"
    assert client.post(url, json=body, headers=hb).status_code == 404
    assert client.get(url, headers=hb).status_code == 404
    made = client.post(url, json=body, headers=ha)
    assert made.status_code == 201 and made.json()["event"] == "account_closed"
    assert [c["event"] for c in client.get(url, headers=ha).json()] == ["account_closed"]
    bad = client.post(url, json={**body, "event": "collected"}, headers=ha)
    assert bad.status_code == 422
    hold = {"scope": "subject", "target": subject_id, "reason": "Sengketa", "owner": "Legal"}
    assert client.post("/api/v1/retention/holds", json=hold, headers=hb).status_code == 404
    assert client.post("/api/v1/retention/holds", json=hold, headers=ha).status_code == 201
    with db.session(b.org_id) as s:
        assert retention.blocking_holds(s, subject_id=subject_id) == []


def test_reading_needs_retention_read_and_running_needs_manage(
    db: Any, client: Any, business: Any
) -> None:
    a = business("tekino")
    from privasi.orgs import service as orgs

    with db.session(a.org_id) as s:
        _, reader = orgs.create_api_key(s, name="r", scopes=["retention.read"])
    headers = {"Authorization": f"Bearer {reader}"}
    assert client.get("/api/v1/retention/plan", headers=headers).status_code == 200
    assert client.post("/api/v1/retention/runs", json={}, headers=headers).status_code == 403
    hold = {"scope": "system", "target": "platform", "reason": "x", "owner": "y"}
    assert client.post("/api/v1/retention/holds", json=hold, headers=headers).status_code == 403
