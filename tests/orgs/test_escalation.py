"""Nobody gets more than they hold: not through a staff account they make, promote or reset, nor
through a hosting grant they hand out; and a processor acting through a grant never makes accounts,
keys, grants or secrets in the controller's organisation that would outlive the grant."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from privasi.db import Database
from privasi.errors import Forbidden
from privasi.orgs import service as orgs
from privasi.orgs.models import HostingGrant, StaffUser
from privasi.orgs.permissions import ALL_PERMISSIONS, role_permissions

INSTRUCTIONS = "Handle the helpdesk's requests only."


def _grant(client: TestClient, by: Any, processor: str, actions: list[str]) -> Any:
    body = {"processor_slug": processor, "actions": actions, "instructions": INSTRUCTIONS}
    return client.post("/api/v1/hosting-grants", json=body, headers=by.headers)


def _emails(db: Database, org_id: str) -> list[str]:
    with db.session(org_id) as s:
        return [u.email for u in orgs.list_staff(s)]


def test_a_grant_cannot_carry_account_key_grant_or_secret_management(
    client: TestClient, make_org: Any, db: Database
) -> None:
    make_org("tekino", role="processor")
    shop = make_org("shop")
    for action in ("staff.manage", "api_keys.manage", "hosting.manage", "secrets.manage"):
        r = _grant(client, shop, "tekino", ["staff.read", action])
        assert r.status_code == 422, action
        assert action in r.json()["detail"]
    assert client.get("/api/v1/hosting-grants", headers=shop.headers).json() == []


def test_a_grant_is_no_wider_than_its_maker(client: TestClient, make_org: Any) -> None:
    make_org("tekino", role="processor")
    shop = make_org("shop", scopes=["hosting.manage", "hosting.read", "requests.read"])
    r = _grant(client, shop, "tekino", ["requests.read", "subjects.read"])
    assert r.status_code == 403
    assert "subjects.read" in r.json()["detail"]
    assert _grant(client, shop, "tekino", ["requests.read"]).status_code == 201


def test_a_processor_through_a_grant_makes_nothing_that_outlives_it(
    client: TestClient, make_org: Any, db: Database
) -> None:
    proc = make_org("tekino", role="processor")
    shop = make_org("shop")
    # A grant stored before such actions were refused still lists them.
    with db.session(shop.id) as s:
        s.add(
            HostingGrant(
                processor_org_id=proc.id,
                actions=sorted({"org.read", "staff.read", "staff.manage", "api_keys.manage"}),
                instructions=INSTRUCTIONS,
                approved_subprocessors=[],
            )
        )
    hosted = {**proc.headers, "Privasi-Organization": "shop"}
    assert client.get("/api/v1/org", headers=hosted).status_code == 200
    assert client.get("/api/v1/staff", headers=hosted).status_code == 200

    made = client.post(
        "/api/v1/staff", json={"email": "backdoor@tekino.example", "role": "agent"}, headers=hosted
    )
    assert made.status_code == 403
    key = client.post(
        "/api/v1/api-keys", json={"name": "backdoor", "scopes": ["org.read"]}, headers=hosted
    )
    assert key.status_code == 403
    other = make_org("tekino-two", role="processor")
    hosted_grant = client.post(
        "/api/v1/hosting-grants",
        json={"processor_slug": other.slug, "actions": ["org.read"], "instructions": "x"},
        headers=hosted,
    )
    assert hosted_grant.status_code == 403
    assert client.get("/api/v1/secrets", headers=hosted).status_code == 403
    assert "backdoor@tekino.example" not in _emails(db, shop.id)


def test_processor_services_refuse_a_granted_principal(
    make_org: Any, db: Database, settings: Any
) -> None:
    """The service refuses too, whatever a route or page lets through."""
    proc = make_org("tekino", role="processor")
    shop = make_org("shop")
    with db.session(shop.id) as s:
        agent, _ = orgs.create_staff(s, settings, email="agen@shop.example", role="agent")
        grant = orgs.create_hosting_grant(
            s,
            processor=orgs.get_org(s, proc.id),
            actions=["org.read"],
            instructions=INSTRUCTIONS,
            approved_subprocessors=[],
        )
        through = orgs.Principal(
            shop.id, "api_key", "k", ALL_PERMISSIONS, proc.id, grant_id=grant.id
        )
        for attempt in (
            lambda: orgs.create_staff(
                s, settings, email="x@shop.example", role="agent", by=through
            ),
            lambda: orgs.update_staff(s, agent, active=False, by=through),
            lambda: orgs.reset_password(s, settings, agent, by=through),
            lambda: orgs.disable_totp(s, agent, by=through),
            lambda: orgs.create_api_key(s, name="k", scopes=["org.read"], by=through),
            lambda: orgs.revoke_hosting_grant(s, grant, by=through),
        ):
            try:
                attempt()
            except Forbidden:
                continue
            raise AssertionError("a granted principal was let through")


def _owner_key(make_org: Any, slug: str) -> Any:
    """An organisation whose key holds exactly what an owner holds (no audit.read, no
    breach.approve: those belong to the DPO)."""
    return make_org(slug, scopes=sorted(role_permissions("owner")))


def test_an_owner_cannot_make_or_take_over_a_dpo(
    client: TestClient, make_org: Any, db: Database, settings: Any
) -> None:
    acme = _owner_key(make_org, "acme")
    for role in ("dpo", "auditor"):
        r = client.post(
            "/api/v1/staff",
            json={"email": f"{role}@acme.example", "role": role},
            headers=acme.headers,
        )
        assert r.status_code == 403, role
        assert "audit.read" in r.json()["detail"]
    assert _emails(db, acme.id) == []

    with db.session(acme.id) as s:
        dpo, _ = orgs.create_staff(s, settings, email="dpo@acme.example", role="dpo")
        agent, _ = orgs.create_staff(s, settings, email="agen@acme.example", role="agent")
        dpo_id, agent_id, dpo_hash = dpo.id, agent.id, dpo.password_hash
    r = client.post(f"/api/v1/staff/{dpo_id}/reset-password", headers=acme.headers)
    assert r.status_code == 403
    r = client.patch(f"/api/v1/staff/{agent_id}", json={"role": "dpo"}, headers=acme.headers)
    assert r.status_code == 403
    with db.session(acme.id) as s:
        assert orgs.get_staff(s, dpo_id).password_hash == dpo_hash
        assert orgs.get_staff(s, agent_id).role == "agent"

    # Within its reach an owner still manages accounts, and may demote a DPO.
    r = client.post(
        "/api/v1/staff", json={"email": "a2@acme.example", "role": "agent"}, headers=acme.headers
    )
    assert r.status_code == 201
    assert (
        client.post(f"/api/v1/staff/{agent_id}/reset-password", headers=acme.headers).status_code
        == 200
    )
    r = client.patch(f"/api/v1/staff/{agent_id}", json={"role": "owner"}, headers=acme.headers)
    assert r.status_code == 200 and r.json()["role"] == "owner"
    r = client.patch(f"/api/v1/staff/{dpo_id}", json={"role": "agent"}, headers=acme.headers)
    assert r.status_code == 200
    with db.session(acme.id) as s:
        assert s.get(StaffUser, dpo_id).role == "agent"  # type: ignore[union-attr]
