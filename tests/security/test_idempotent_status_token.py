"""A request's status token opens the requester's status page: it is kept sealed with the request,
never in clear in the stored idempotent answer, and a retry still gets it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from privasi.http.models import IdempotencyRecord
from privasi.orgs import service as orgs
from privasi.policy import service as policies

POLICY = Path(__file__).resolve().parents[1] / "rights" / "data" / "warung.yaml"


def test_a_retried_request_gets_its_status_token_which_is_not_stored_in_clear(
    client: Any, db: Any, make_org: Any
) -> None:
    warung = make_org("warung-contoh")
    with db.session(warung.id) as s:
        principal = orgs.system_principal(warung.id)
        policies.publish(s, principal, policies.create_draft(s, principal, POLICY.read_text()))
    body = {"type": "access", "identifiers": {"email": "tamu@contoh.example"}}
    headers = {**warung.headers, "Idempotency-Key": "intake-1"}
    first = client.post("/api/v1/requests", json=body, headers=headers)
    again = client.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    token = first.json()["status_token"]
    assert len(token) >= 20
    assert again.json() == first.json()
    assert client.get(f"/privacy/warung-contoh/request/{token}").status_code == 200
    with db.session(warung.id) as s:
        stored = s.scalars(select(IdempotencyRecord)).all()
        assert stored and all(token not in str(r.response) for r in stored)
