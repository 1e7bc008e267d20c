"""The organisation, staff, API key and hosting grant API, as a business's engineer uses it."""

from __future__ import annotations


def test_org_and_staff_lifecycle(client, make_org):
    acme = make_org("acme")
    r = client.get("/api/v1/org", headers=acme.headers)
    assert r.status_code == 200
    assert r.json()["slug"] == "acme" and r.json()["time_zone"] == "Asia/Jakarta"

    r = client.post(
        "/api/v1/staff",
        json={"email": "Rina@Acme.example", "role": "agent", "name": "Rina"},
        headers=acme.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email"] == "rina@acme.example"
    assert len(created["one_time_password"]) >= 12
    assert "password_hash" not in created

    r = client.post(
        "/api/v1/staff", json={"email": "rina@acme.example", "role": "agent"}, headers=acme.headers
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:privasi:problem:conflict"

    r = client.patch(
        f"/api/v1/staff/{created['id']}", json={"role": "wizard"}, headers=acme.headers
    )
    assert r.status_code == 422


def test_validation_errors_have_field_paths(client, make_org):
    acme = make_org("acme")
    r = client.post("/api/v1/api-keys", json={"name": "x", "scopes": "nope"}, headers=acme.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "urn:privasi:problem:validation-error"
    assert any(e["field"] == "body.scopes" for e in body["errors"])


def test_api_key_shown_once_scoped_and_revocable(client, make_org):
    acme = make_org("acme")
    r = client.post(
        "/api/v1/api-keys", json={"name": "widget", "scopes": ["org.read"]}, headers=acme.headers
    )
    assert r.status_code == 201
    token = r.json()["token"]
    key_id = r.json()["key_id"]
    listed = client.get("/api/v1/api-keys", headers=acme.headers).json()
    assert all("token" not in k and "secret_hash" not in k for k in listed)

    narrow = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/org", headers=narrow).status_code == 200
    r = client.get("/api/v1/staff", headers=narrow)
    assert r.status_code == 403 and "staff.read" in r.json()["detail"]

    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=acme.headers).status_code == 200
    r = client.get("/api/v1/org", headers=narrow)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_bad_tokens_are_refused_alike(client, make_org):
    acme = make_org("acme")
    wrong_secret = acme.token.rsplit("_", 1)[0] + "_" + "A" * 43
    for token in ["garbage", "pvk_0000000000000000_abc", wrong_secret]:
        r = client.get("/api/v1/org", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.json()["detail"] == "invalid API key"
    assert client.get("/api/v1/org").status_code == 401


def test_key_cannot_grant_more_than_it_holds(client, make_org):
    acme = make_org("acme", scopes=["api_keys.manage", "org.read"])
    r = client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["staff.manage"]}, headers=acme.headers
    )
    assert r.status_code == 403


def test_last_owner_cannot_be_demoted(client, make_org, db, settings):
    from privasi.orgs import service as orgs

    acme = make_org("acme")
    with db.session(acme.id) as s:
        owner, _ = orgs.create_staff(s, settings, email="boss@acme.example", role="owner")
    r = client.patch(f"/api/v1/staff/{owner.id}", json={"role": "agent"}, headers=acme.headers)
    assert r.status_code == 409


def test_hosting_grant_idempotent_create(client, make_org):
    tekino = make_org("tekino", role="processor")
    shop = make_org("shop")
    body = {
        "processor_slug": tekino.slug,
        "actions": ["requests.read", "requests.manage"],
        "instructions": "Handle end-user requests for the shop's WhatsApp bot.",
        "approved_subprocessors": [{"name": "Meta Platforms", "country": "US"}],
    }
    headers = {**shop.headers, "Idempotency-Key": "grant-1"}
    first = client.post("/api/v1/hosting-grants", json=body, headers=headers)
    again = client.post("/api/v1/hosting-grants", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(client.get("/api/v1/hosting-grants", headers=shop.headers).json()) == 1

    changed = client.post(
        "/api/v1/hosting-grants", json={**body, "instructions": "other"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:privasi:problem:idempotency-key-reused"


def test_grant_requires_processor_and_instructions(client, make_org):
    other = make_org("other")
    shop = make_org("shop")
    body = {"processor_slug": other.slug, "actions": ["requests.read"], "instructions": "x"}
    r = client.post("/api/v1/hosting-grants", json=body, headers=shop.headers)
    assert r.status_code == 422
    assert "processor" in r.json()["detail"]


def test_retried_key_creation_creates_one_key_and_never_stores_the_token(client, make_org, db):
    from sqlalchemy import select

    from privasi.http.models import IdempotencyRecord

    acme = make_org("acme")
    headers = {**acme.headers, "Idempotency-Key": "create-widget-key"}
    body = {"name": "widget", "scopes": ["org.read"]}
    first = client.post("/api/v1/api-keys", json=body, headers=headers)
    retry = client.post("/api/v1/api-keys", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.json()["token"].startswith("pvk_")
    assert "token" not in retry.json() and retry.json()["id"] == first.json()["id"]
    names = [k["name"] for k in client.get("/api/v1/api-keys", headers=acme.headers).json()]
    assert names.count("widget") == 1
    with db.session(acme.id) as s:
        stored = s.scalars(select(IdempotencyRecord)).all()
        assert all(first.json()["token"] not in str(r.response) for r in stored)
