"""Policy versions through the API: drafts, validation problems, publishing, the current version."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "examples" / "digimetalab.yaml").read_text()


def _upload(client, org, source, **headers):
    return client.post(
        "/api/v1/policies", json={"source": source}, headers={**org.headers, **headers}
    )


def _with(source: str, **changes) -> str:
    doc = yaml.safe_load(source)
    for dotted, value in changes.items():
        target = doc
        *parents, last = dotted.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def test_upload_publish_and_current(client, make_org):
    org = make_org("digimetalab")
    r = _upload(client, org, DEMO, **{"Idempotency-Key": "v1"})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["number"] == 1 and draft["schema_version"] >= 1
    assert _upload(client, org, DEMO, **{"Idempotency-Key": "v1"}).json()["id"] == draft["id"]

    assert client.get("/api/v1/policies/current", headers=org.headers).status_code == 404
    r = client.post(f"/api/v1/policies/{draft['id']}/publish", json={}, headers=org.headers)
    assert r.status_code == 200, r.text
    assert r.json()["diff"] is None
    current = client.get("/api/v1/policies/current", headers=org.headers).json()
    assert current["id"] == draft["id"] and current["source"] == DEMO
    # the organisation follows its policy's time zone (Digimetalab is in Bali)
    assert client.get("/api/v1/org", headers=org.headers).json()["time_zone"] == "Asia/Makassar"
    again = client.post(f"/api/v1/policies/{draft['id']}/publish", json={}, headers=org.headers)
    assert again.status_code == 409


def test_invalid_upload_names_line_and_field(client, make_org):
    org = make_org("digimetalab")
    broken = DEMO.replace("legal_basis: consent", "legal_basis: because-we-can", 1)
    r = _upload(client, org, broken)
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "urn:privasi:problem:policy-invalid"
    problem = body["problems"][0]
    assert problem["line"] and "legal_basis" in problem["path"]
    assert client.get("/api/v1/policies", headers=org.headers).json() == []


def test_policy_of_another_org_refused(client, make_org):
    org = make_org("someone-else")
    r = _upload(client, org, DEMO)
    assert r.status_code == 422 and "digimetalab" in r.json()["detail"]


def test_future_version_becomes_current_on_its_date(client, make_org, db):
    from privasi.policy import service as policies

    org = make_org("digimetalab")
    first = _upload(client, org, DEMO).json()
    client.post(f"/api/v1/policies/{first['id']}/publish", json={}, headers=org.headers)
    in_three_days = date.today() + timedelta(days=3)
    second = _upload(client, org, _with(DEMO, **{"organisation.brand": "Digimeta Lab"})).json()
    r = client.post(
        f"/api/v1/policies/{second['id']}/publish",
        json={"effective_date": in_three_days.isoformat()},
        headers=org.headers,
    )
    assert r.status_code == 200
    assert r.json()["diff"]["changes"], "the brand change is listed"
    assert client.get("/api/v1/policies/current", headers=org.headers).json()["id"] == first["id"]
    later = datetime.combine(in_three_days, time(12), tzinfo=UTC)
    with db.session(org.id) as s:
        assert policies.current_version(s, later).id == second["id"]


def test_past_effective_date_refused(client, make_org):
    org = make_org("digimetalab")
    draft = _upload(client, org, DEMO).json()
    r = client.post(
        f"/api/v1/policies/{draft['id']}/publish",
        json={"effective_date": "2020-01-01"},
        headers=org.headers,
    )
    assert r.status_code == 422 and "past" in r.json()["detail"]


def test_material_diff_between_versions(client, make_org):
    org = make_org("digimetalab")
    doc = yaml.safe_load(DEMO)
    recipient = dict(doc["recipients"][0])
    recipient["id"] = "new_analytics_vendor"
    recipient["countries"] = ["SG"]
    doc["recipients"].append(recipient)
    changed = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    one = _upload(client, org, DEMO).json()
    two = _upload(client, org, changed).json()
    r = client.get(
        f"/api/v1/policies/{two['id']}/diff?against={one['number']}", headers=org.headers
    )
    assert r.status_code == 200
    assert r.json()["material"] is True
    added = [c for c in r.json()["changes"] if "new_analytics_vendor" in str(c["new"])]
    assert added and all(c["material"] for c in added)


def test_notice_and_ropa_of_a_version(client, make_org):
    org = make_org("digimetalab")
    draft = _upload(client, org, DEMO).json()
    en = client.get(f"/api/v1/policies/{draft['id']}/notice?lang=en", headers=org.headers)
    idn = client.get(f"/api/v1/policies/{draft['id']}/notice?lang=id", headers=org.headers)
    assert en.status_code == idn.status_code == 200
    assert en.text != idn.text and "<h1" in en.text
    md = client.get(f"/api/v1/policies/{draft['id']}/notice?format=md", headers=org.headers)
    assert md.headers["content-type"].startswith("text/markdown")
    csv = client.get(f"/api/v1/policies/{draft['id']}/ropa", headers=org.headers)
    assert csv.status_code == 200 and csv.text.count("\n") > 3


def test_stored_versions_are_upgraded(client, make_org, db):
    from privasi.policy import service as policies
    from privasi.policy.models import PolicyVersion
    from privasi.policy.schema import CURRENT_SCHEMA_VERSION

    org = make_org("digimetalab")
    draft = _upload(client, org, DEMO).json()
    with db.session(org.id) as s:
        row = s.get(PolicyVersion, draft["id"])
        row.schema_version = 0  # as if stored by an older privasi
    with db.session(org.id) as s:
        assert policies.upgrade_stored(s) == 1
        assert s.get(PolicyVersion, draft["id"]).schema_version == CURRENT_SCHEMA_VERSION
