"""Merging two records of one person after a 409: identifiers, guardians and consent move."""

from __future__ import annotations

from datetime import date, timedelta

PROOF = {
    "text": "Ya, kirimi saya buletin.",
    "language": "id",
    "channel": "web",
    "method": "checkbox",
}


def _post(client, org, path, body):
    r = client.post(path, json=body, headers=org.headers)
    assert r.status_code < 300, r.text
    return r.json()


def test_merge_resolves_the_conflict_and_keeps_the_newest_choice(client, toko):
    email = _post(
        client, toko, "/api/v1/subjects", {"identifiers": {"email": "ani@contoh.example"}}
    )
    phone = _post(client, toko, "/api/v1/subjects", {"identifiers": {"phone": "081377778888"}})
    conflict = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"email": "ani@contoh.example", "phone": "081377778888"}},
        headers=toko.headers,
    )
    assert conflict.status_code == 409
    # granted on one record, later withdrawn on the other: the withdrawal is the newest choice
    for subject, purpose, action in (
        (email, "newsletter", "granted"),
        (phone, "newsletter", "withdrawn"),
        (phone, "whatsapp_promo", "granted"),
    ):
        _post(client, toko, "/api/v1/consent/events", {
            "subject_id": subject["id"], "purpose": purpose, "action": action, "proof": PROOF,
        })  # fmt: skip
    merged = _post(client, toko, f"/api/v1/subjects/{email['id']}/merge", {"other_id": phone["id"]})
    assert merged["identifiers"] == {"email": ["ani@contoh.example"], "phone": ["+6281377778888"]}
    # the conflict is gone: both identifiers now name one subject
    again = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"email": "ani@contoh.example", "phone": "081377778888"}},
        headers=toko.headers,
    )
    assert again.status_code == 200 and again.json()["id"] == email["id"]
    decisions = _post(client, toko, "/api/v1/consent/check", {
        "purpose": "newsletter", "subject_ids": [email["id"]],
    })["decisions"]  # fmt: skip
    assert decisions[0]["reason"] == "withdrawn"
    promo = client.get(
        "/api/v1/consent/check", params={"subject_id": email["id"], "purpose": "whatsapp_promo"},
        headers=toko.headers,
    ).json()  # fmt: skip
    assert promo["allowed"] is True
    # a business still holding the old id is answered from the kept record
    old_id = client.get(
        "/api/v1/consent/check", params={"subject_id": phone["id"], "purpose": "whatsapp_promo"},
        headers=toko.headers,
    ).json()  # fmt: skip
    assert old_id == {
        "subject_id": phone["id"], "purpose": "whatsapp_promo", "allowed": True, "reason": "consent"
    }  # fmt: skip
    old_record = client.get(f"/api/v1/subjects/{phone['id']}", headers=toko.headers).json()
    assert old_record["state"] == "merged" and old_record["merged_into"] == email["id"]
    # the merged-away record keeps its own evidence and takes no new events
    evidence = client.get(f"/api/v1/subjects/{phone['id']}/consents", headers=toko.headers).json()
    assert len(evidence["events"]) == 2
    refused = client.post("/api/v1/consent/events", json={
        "subject_id": phone["id"], "purpose": "newsletter", "action": "granted", "proof": PROOF,
    }, headers=toko.headers)  # fmt: skip
    assert refused.status_code == 409
    twice = client.post(
        f"/api/v1/subjects/{email['id']}/merge", json={"other_id": phone["id"]},
        headers=toko.headers,
    )  # fmt: skip
    assert twice.status_code == 409
    audit = client.get(
        "/api/v1/audit", params={"subject_id": email["id"], "action": "subject.merged"},
        headers=toko.headers,
    ).json()["items"]  # fmt: skip
    assert audit[0]["details"]["merged_subject_id"] == phone["id"]


def test_merge_moves_age_and_guardians(client, toko):
    child_a = _post(client, toko, "/api/v1/subjects", {
        "identifiers": {"email": "anak@contoh.example"},
        "birth_date": (date.today() - timedelta(days=365 * 9)).isoformat(),
    })  # fmt: skip
    child_b = _post(client, toko, "/api/v1/subjects", {"identifiers": {"external": "murid-77"}})
    parent = _post(client, toko, "/api/v1/subjects", {
        "identifiers": {"email": "ibu@contoh.example"}, "declared_age": 39,
    })  # fmt: skip
    _post(client, toko, f"/api/v1/subjects/{child_a['id']}/guardians", {
        "guardian_id": parent["id"], "relationship": "parent",
    })  # fmt: skip
    merged = _post(
        client, toko, f"/api/v1/subjects/{child_b['id']}/merge", {"other_id": child_a["id"]}
    )
    assert merged["minor"] is True
    assert [g["guardian_id"] for g in merged["guardians"]] == [parent["id"]]
    assert client.post(
        f"/api/v1/subjects/{child_b['id']}/merge", json={"other_id": child_b["id"]},
        headers=toko.headers,
    ).status_code == 422  # fmt: skip
