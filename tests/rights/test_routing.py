"""Processor mode: an end user's request reaching the processor goes to the Business User that
controls the data, keeping its original receipt time and clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from privasi.orgs import service as orgs
from privasi.rights import service as rights

from .conftest import EMAIL, publish_warung


def _processor(db: Any, make_org: Any, warung: Any, actions: list[str]) -> Any:
    proc = make_org("tek-ino", role="processor")
    publish_warung(
        db,
        proc.id,
        proc.slug,
        **{
            "  role: controller\n": "  role: processor\n",
            "  verification: [email_code, account_login, staff_review]\n": (
                "  verification: [email_code, account_login, staff_review]\n"
                "  route_to_business_user: true\n"
            ),
        },
    )
    with db.session(warung.id) as s:
        orgs.create_hosting_grant(
            s,
            processor=orgs.get_org_by_slug(s, "tek-ino"),
            actions=actions,
            instructions="Teruskan permintaan pelanggan kami kepada kami.",
            approved_subprocessors=[],
        )
    return proc


def test_request_is_routed_to_the_controller_with_its_receipt_time(
    client: Any, db: Any, make_org: Any, warung: Any, customer: str
) -> None:
    proc = _processor(db, make_org, warung, ["requests.manage", "requests.read"])
    received = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    created = client.post(
        "/api/v1/requests",
        json={
            "type": "erasure",
            "channel": "whatsapp",
            "identifiers": {"email": EMAIL},
            "received_at": received.isoformat(),
        },
        headers=proc.headers,
    ).json()
    assert created["subject_id"] is None  # the processor does not know this end user
    detail = client.get(f"/api/v1/requests/{created['id']}", headers=proc.headers).json()
    assert detail["identifiers_given"] == {"email": EMAIL}

    routed = client.post(
        f"/api/v1/requests/{created['id']}/route",
        json={"controller": "warung-contoh"},
        headers=proc.headers,
    )
    assert routed.status_code == 200, routed.text
    assert routed.json()["org"] == "warung-contoh" and routed.json()["number"] == "REQ-000001"

    with db.session(warung.id) as s:
        there = rights.get_request(s, routed.json()["id"])
        assert there.subject_id == customer and there.type == "erasure"
        assert there.channel == "whatsapp" and there.received_at == received
        assert there.due_at == received + timedelta(days=14)
    here = client.get(f"/api/v1/requests/{created['id']}", headers=proc.headers).json()
    assert here["status"] == "completed"
    assert here["outcome"]["routed_to"] == {"org": "warung-contoh", "number": "REQ-000001"}
    again = client.post(
        f"/api/v1/requests/{created['id']}/route",
        json={"controller": "warung-contoh"},
        headers=proc.headers,
    )
    assert again.status_code == 409


def test_routing_needs_a_grant_with_requests_manage(
    client: Any, db: Any, make_org: Any, warung: Any, customer: str
) -> None:
    proc = _processor(db, make_org, warung, ["requests.read"])
    stranger = make_org("toko-asing")
    created = client.post(
        "/api/v1/requests",
        json={"type": "access", "identifiers": {"email": EMAIL}},
        headers=proc.headers,
    ).json()
    narrow = client.post(
        f"/api/v1/requests/{created['id']}/route",
        json={"controller": "warung-contoh"},
        headers=proc.headers,
    )
    assert narrow.status_code == 403
    for slug in ("toko-asing", "tidak-ada"):
        unknown = client.post(
            f"/api/v1/requests/{created['id']}/route",
            json={"controller": slug},
            headers=proc.headers,
        )
        assert unknown.status_code == 404
    assert stranger.slug == "toko-asing"
    with db.session(warung.id) as s:
        assert rights.list_requests(s).items == []
