"""``/api/v1/outbox``: delivery state per message and per subject; never the content."""

from __future__ import annotations

from privasi.notify import delivery
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects


def test_message_state_is_visible_without_its_content(client, db, org, queue):
    message_id = queue(to="budi@pelanggan.example", params={"code": "615243", "minutes": 10})

    r = client.get(f"/api/v1/outbox/{message_id}", headers=org.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "pending" and body["attempts"] == 0
    assert body["channel"] == "email" and body["template"] == "verification_code"
    assert "615243" not in r.text and "budi@" not in r.text

    delivery.deliver(db, message_id)
    body = client.get(f"/api/v1/outbox/{message_id}", headers=org.headers).json()
    assert body["status"] == "sent" and body["sent_at"] and body["provider_message_id"]


def test_list_is_filtered_by_subject_and_paged(client, db, org, queue):
    with db.session(org.id) as s:
        person = subjects.find_or_create(
            s, orgs.system_principal(org.id), {"email": "ayu@pelanggan.example"}
        )
    mine = [queue(subject_id=person.id) for _ in range(3)]
    queue(to="lain@pelanggan.example")

    r = client.get(
        "/api/v1/outbox", params={"subject_id": person.id, "limit": 2}, headers=org.headers
    )
    assert r.status_code == 200
    first = r.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    r = client.get(
        "/api/v1/outbox",
        params={"subject_id": person.id, "limit": 2, "cursor": first["next_cursor"]},
        headers=org.headers,
    )
    second = r.json()
    assert second["next_cursor"] is None
    ids = [m["id"] for m in first["items"] + second["items"]]
    assert sorted(ids) == sorted(mine)
    assert all(m["subject_id"] == person.id for m in first["items"] + second["items"])


def test_failed_message_can_be_retried_and_cancelled(client, db, org, queue):
    message_id = queue(channel="whatsapp", to="6281234567890")
    delivery.deliver(db, message_id)  # no WhatsApp credentials: fails at once

    failed = client.get("/api/v1/outbox", params={"status": "failed"}, headers=org.headers)
    assert [m["id"] for m in failed.json()["items"]] == [message_id]
    assert failed.json()["items"][0]["last_error"].startswith("missing secret")

    r = client.post(f"/api/v1/outbox/{message_id}/retry", headers=org.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    again = client.post(f"/api/v1/outbox/{message_id}/retry", headers=org.headers)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    r = client.post(f"/api/v1/outbox/{message_id}/cancel", headers=org.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    audit = client.get("/api/v1/audit", params={"action": "outbox.*"}, headers=org.headers)
    assert [e["action"] for e in audit.json()["items"]] == ["outbox.cancelled", "outbox.retried"]


def test_reading_needs_consent_read(client, make_org, org, queue):
    message_id = queue(to="budi@pelanggan.example")
    narrow = make_org("kopi-lain", scopes=["org.read"])
    r = client.get(f"/api/v1/outbox/{message_id}", headers=narrow.headers)
    assert r.status_code in (403, 404)
    limited = make_org("kopi-baca", scopes=["consent.read"])
    r = client.post(f"/api/v1/outbox/{message_id}/retry", headers=limited.headers)
    assert r.status_code == 403


def test_identifiers_are_refused_in_the_url(client, org):
    r = client.get(
        "/api/v1/outbox", params={"subject_id": "budi@pelanggan.example"}, headers=org.headers
    )
    assert r.status_code == 422
    assert "budi" not in r.json()["detail"]
