"""GET /api/v1/audit: filters, pagination, permissions, and reads that are themselves recorded."""

from __future__ import annotations

from privasi.audit import service as audit
from privasi.orgs.service import system_principal


def _seed(db, org_id: str) -> None:
    with db.session(org_id) as s:
        for i in range(5):
            audit.record(s, system_principal(org_id, "crm"), "subject.read", subject_id=f"s{i}")
        audit.record(s, system_principal(org_id, "dpo"), "consent.withdrawn", subject_id="s1")


def test_list_and_filter(client, make_org, db) -> None:
    org = make_org("toko-kopi")
    _seed(db, org.id)
    page = client.get("/api/v1/audit?subject_id=s1", headers=org.headers)
    assert page.status_code == 200
    body = page.json()
    assert [e["action"] for e in body["items"]] == ["consent.withdrawn", "subject.read"]
    assert body["next_cursor"] is None
    event = body["items"][0]
    assert event["actor"] == "system:dpo" and len(event["mac"]) == 64
    actions = client.get("/api/v1/audit?action=consent.*", headers=org.headers).json()["items"]
    assert [e["subject_id"] for e in actions] == ["s1"]
    by_actor = client.get("/api/v1/audit?actor=system:crm", headers=org.headers).json()["items"]
    assert len(by_actor) == 5


def test_pagination_and_time_filters(client, make_org, db) -> None:
    org = make_org("toko-kopi")
    _seed(db, org.id)
    first = client.get("/api/v1/audit?limit=4&action=subject.read", headers=org.headers).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = client.get(
        f"/api/v1/audit?limit=4&action=subject.read&cursor={first['next_cursor']}",
        headers=org.headers,
    ).json()
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert len(seqs) == 5 and seqs == sorted(seqs, reverse=True)
    future = client.get("/api/v1/audit?since=2999-01-01T00:00:00", headers=org.headers).json()
    assert future["items"] == []
    assert client.get("/api/v1/audit?limit=0", headers=org.headers).status_code == 422


def test_reading_the_trail_is_recorded(client, make_org, db) -> None:
    org = make_org("toko-kopi")
    client.get("/api/v1/audit?subject_id=s9", headers=org.headers)
    reads = client.get("/api/v1/audit?action=audit.read", headers=org.headers).json()["items"]
    assert reads[0]["subject_id"] == "s9"
    assert reads[0]["details"] == {"filters": ["subject_id"], "returned": 0}
    with db.session(org.id) as s:
        assert audit.verify(s, org.id).ok


def test_needs_audit_read_and_stays_in_its_organisation(client, make_org, db) -> None:
    agent = make_org("toko-kopi", scopes=["subjects.read"])
    assert client.get("/api/v1/audit", headers=agent.headers).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    other = make_org("klinik-sehat")
    _seed(db, agent.id)
    assert client.get("/api/v1/audit?action=subject.*", headers=other.headers).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_searching_by_an_identifier_is_refused(client, make_org) -> None:
    org = make_org("toko-kopi")
    response = client.get("/api/v1/audit?subject_id=ani@contoh.id", headers=org.headers)
    assert response.status_code == 422 and "ani@contoh.id" not in response.text
