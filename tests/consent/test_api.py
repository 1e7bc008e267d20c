"""The subject and consent REST API: create, record with proof, idempotency, check, evidence."""

from __future__ import annotations

from datetime import date, timedelta

PROOF = {
    "text": "Saya setuju menerima buletin promosi dari Toko Contoh.",
    "language": "id",
    "channel": "web",
    "method": "checkbox",
    "source": "https://toko.example/daftar",
    "user_agent": "Mozilla/5.0 Firefox/128.0",
    "client_addr": "2001:db8:abcd:12:1:2:3:4",
}


def _subject(client, org, email, **extra):
    r = client.post(
        "/api/v1/subjects", json={"identifiers": {"email": email}, **extra}, headers=org.headers
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def _event(client, org, subject_id, purpose="newsletter", action="granted", headers=None, **proof):
    return client.post(
        "/api/v1/consent/events",
        json={
            "subject_id": subject_id,
            "purpose": purpose,
            "action": action,
            "proof": {**PROOF, **proof},
        },
        headers={**org.headers, **(headers or {})},
    )


def test_subject_create_is_find_or_create(client, toko):
    first = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"email": "wati@contoh.example", "phone": "0812 7777 1234"}},
        headers=toko.headers,
    )
    assert first.status_code == 201 and first.json()["created"] is True
    again = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"phone": "+62 812-7777-1234"}},
        headers=toko.headers,
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    detail = client.get(f"/api/v1/subjects/{first.json()['id']}", headers=toko.headers).json()
    assert detail["identifiers"] == {"email": ["wati@contoh.example"], "phone": ["+6281277771234"]}
    assert detail["minor"] is False
    found = client.post(
        "/api/v1/subjects/lookup",
        json={"kind": "email", "value": "WATI@contoh.example"},
        headers=toko.headers,
    ).json()["items"]
    assert [s["id"] for s in found] == [first.json()["id"]]


def test_two_subjects_conflict_names_both(client, toko):
    a = _subject(client, toko, "a@contoh.example")["id"]
    b = client.post(
        "/api/v1/subjects", json={"identifiers": {"phone": "081299990000"}}, headers=toko.headers
    ).json()["id"]
    r = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"email": "a@contoh.example", "phone": "081299990000"}},
        headers=toko.headers,
    )
    assert r.status_code == 409
    body = r.json()
    assert body["type"] == "urn:privasi:problem:subjects-conflict"
    assert sorted(body["subject_ids"]) == sorted([a, b])
    assert "a@contoh" not in r.text and "0812" not in r.text


def test_grant_withdraw_and_check(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    check = client.get(
        "/api/v1/consent/check", params={"subject_id": sid, "purpose": "newsletter"},
        headers=toko.headers,
    )  # fmt: skip
    assert check.json() == {
        "subject_id": sid, "purpose": "newsletter", "allowed": False, "reason": "no_consent"
    }  # fmt: skip
    r = _event(client, toko, sid)
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["proof"]["client_addr"] == "2001:db8:abcd::/48"
    assert event["proof"]["policy_version"] == 1
    assert event["proof"]["text"] == PROOF["text"]
    assert client.get(
        "/api/v1/consent/check", params={"subject_id": sid, "purpose": "newsletter"},
        headers=toko.headers,
    ).json()["allowed"] is True  # fmt: skip
    w = _event(client, toko, sid, action="withdrawn", text="", method="button")
    assert w.status_code == 201
    assert w.json()["withdrawal_consequences"]["en"].startswith("You no longer get newsletters")
    assert w.json()["withdrawal_consequences"]["id"].startswith("Anda tidak lagi")
    after = client.get(
        "/api/v1/consent/check", params={"subject_id": sid, "purpose": "newsletter"},
        headers=toko.headers,
    ).json()  # fmt: skip
    assert (after["allowed"], after["reason"]) == (False, "withdrawn")


def test_event_with_identifiers_creates_the_subject(client, toko):
    r = client.post(
        "/api/v1/consent/events",
        json={
            "identifiers": {"whatsapp": "6281355551234"},
            "purpose": "whatsapp_promo",
            "action": "granted",
            "proof": {**PROOF, "channel": "whatsapp", "method": "keyword", "text": "MULAI"},
        },
        headers=toko.headers,
    )
    assert r.status_code == 201, r.text
    found = client.post(
        "/api/v1/subjects/lookup",
        json={"kind": "phone", "value": "081355551234"},
        headers=toko.headers,
    ).json()["items"]
    assert [s["id"] for s in found] == [r.json()["subject_id"]]


def test_idempotency_key_never_records_twice(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    key = {"Idempotency-Key": "form-7f3a-1"}
    first = _event(client, toko, sid, headers=key)
    second = _event(client, toko, sid, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    evidence = client.get(f"/api/v1/subjects/{sid}/consents", headers=toko.headers).json()
    assert len(evidence["events"]) == 1
    # the same key with another body is refused
    other = _event(client, toko, sid, action="withdrawn", headers=key)
    assert other.status_code == 409


def test_refusals_have_clear_problem_types(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    r = _event(client, toko, sid, purpose="orders")
    assert r.status_code == 422 and r.json()["type"].endswith("purpose-not-consent-based")
    r = _event(client, toko, sid, purpose="sell_everything")
    assert r.status_code == 422 and r.json()["type"].endswith("unknown-purpose")
    child = _subject(
        client, toko, "anak@contoh.example",
        birth_date=(date.today() - timedelta(days=365 * 11)).isoformat(),
    )["id"]  # fmt: skip
    r = _event(client, toko, child)
    assert r.status_code == 403 and r.json()["type"].endswith("minor-needs-guardian")
    parent = _subject(client, toko, "bapak@contoh.example", declared_age=45)["id"]
    link = client.post(
        f"/api/v1/subjects/{child}/guardians",
        json={"guardian_id": parent, "relationship": "parent"},
        headers=toko.headers,
    )
    assert link.status_code == 201
    r = _event(client, toko, child, guardian_id=parent)
    assert r.status_code == 201 and r.json()["proof"]["guardian_id"] == parent
    detail = client.get(f"/api/v1/subjects/{child}", headers=toko.headers).json()
    assert detail["minor"] is True and detail["guardians"][0]["guardian_id"] == parent


def test_bulk_check_by_ids_and_identifiers(client, toko):
    ids = [_subject(client, toko, f"p{i}@contoh.example")["id"] for i in range(5)]
    r = client.post(
        "/api/v1/consent/events/batch",
        json={
            "subject_ids": [*ids[:3], "not-a-subject"],
            "purpose": "newsletter",
            "action": "granted",
            "proof": {**PROOF, "method": "import"},
        },
        headers=toko.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 3 and r.json()["unknown_subject_ids"] == ["not-a-subject"]
    r = client.post(
        "/api/v1/consent/check",
        json={
            "purpose": "newsletter",
            "subject_ids": ids,
            "identifiers": [
                {"kind": "email", "value": "P0@contoh.example"},
                {"kind": "email", "value": "nobody@contoh.example"},
            ],
        },
        headers=toko.headers,
    )
    assert r.status_code == 200
    decisions = r.json()["decisions"]
    assert [d["allowed"] for d in decisions] == [True, True, True, False, False, True, False]
    assert decisions[-1] == {
        "subject_id": None, "purpose": "newsletter", "allowed": False, "reason": "unknown_subject"
    }  # fmt: skip
    too_many = client.post(
        "/api/v1/consent/check",
        json={"purpose": "newsletter", "subject_ids": ["x"] * 10_001},
        headers=toko.headers,
    )
    assert too_many.status_code == 422


def test_restriction_and_objection_through_the_api(client, toko):
    sid = _subject(client, toko, "eko@contoh.example")["id"]
    r = client.put(
        f"/api/v1/subjects/{sid}/restriction", json={"restricted": True}, headers=toko.headers
    )
    assert r.status_code == 200 and r.json()["restricted"] is True

    def reason(purpose):
        return client.get(
            "/api/v1/consent/check", params={"subject_id": sid, "purpose": purpose},
            headers=toko.headers,
        ).json()["reason"]  # fmt: skip

    assert reason("orders") == "restricted"
    assert reason("tax_records") == "legal_obligation"
    client.put(
        f"/api/v1/subjects/{sid}/restriction", json={"restricted": False}, headers=toko.headers
    )
    client.post(
        f"/api/v1/subjects/{sid}/objections",
        json={"purpose": "fraud_prevention"},
        headers=toko.headers,
    )
    assert reason("fraud_prevention") == "objection"
    client.delete(f"/api/v1/subjects/{sid}/objections/fraud_prevention", headers=toko.headers)
    assert reason("fraud_prevention") == "legitimate_interest"


def test_purposes_show_withdrawal_consequences(client, toko):
    r = client.get("/api/v1/consent/purposes", params={"lang": "en"}, headers=toko.headers)
    by_id = {p["id"]: p for p in r.json()}
    assert set(by_id) == {"newsletter", "whatsapp_promo", "cookie:analytics"}
    assert by_id["newsletter"]["withdrawal_consequences"].startswith("You no longer")
    assert by_id["whatsapp_promo"]["keyword_opt_in"] is True


def test_evidence_export_has_full_history_with_proof(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    _event(client, toko, sid)
    _event(client, toko, sid, action="withdrawn", text="", method="one-click", channel="email")
    doc = client.get(f"/api/v1/subjects/{sid}/consents", headers=toko.headers).json()
    assert doc["format"] == "privasi.consent-evidence/1" and doc["subject_id"] == sid
    assert [e["action"] for e in doc["events"]] == ["granted", "withdrawn"]
    granted = doc["events"][0]["proof"]
    assert granted["text"] == PROOF["text"] and granted["source"] == PROOF["source"]
    assert granted["language"] == "id" and granted["method"] == "checkbox"
    assert doc["current"] == [
        {
            "purpose": "newsletter",
            "status": "withdrawn",
            "since": doc["events"][1]["occurred_at"],
            "event_id": doc["events"][1]["id"],
            "policy_version": 1,
            "guardian_id": None,
            "renew_from": None,
            "allowed_now": False,
            "reason_now": "withdrawn",
        }
    ]
    # no identifier appears in the evidence
    assert "sari@" not in str(doc)


def test_other_organisations_cannot_touch_my_subjects(client, toko, toko_lain):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    _event(client, toko, sid)
    r = client.post(
        "/api/v1/consent/events/batch",
        json={"subject_ids": [sid], "purpose": "newsletter", "action": "withdrawn",
              "proof": PROOF},
        headers=toko_lain.headers,
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["count"] == 0
    assert _event(client, toko_lain, sid, action="withdrawn").status_code == 404
    theirs = client.get(
        "/api/v1/consent/check", params={"subject_id": sid, "purpose": "newsletter"},
        headers=toko_lain.headers,
    ).json()  # fmt: skip
    assert theirs["reason"] == "unknown_subject"
    mine = client.get(
        "/api/v1/consent/check", params={"subject_id": sid, "purpose": "newsletter"},
        headers=toko.headers,
    ).json()  # fmt: skip
    assert mine["allowed"] is True


def test_event_can_be_read_back_with_its_proof(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    event = _event(client, toko, sid).json()
    r = client.get(f"/api/v1/consent/events/{event['id']}", headers=toko.headers)
    assert r.status_code == 200
    assert r.json()["proof"]["text"] == PROOF["text"] and r.json()["subject_id"] == sid
    assert (
        client.get("/api/v1/consent/events/no-such-event", headers=toko.headers).status_code == 404
    )


def test_every_consent_change_is_an_audit_event(client, toko):
    sid = _subject(client, toko, "sari@contoh.example")["id"]
    _event(client, toko, sid)
    _event(client, toko, sid, action="withdrawn", text="", method="button")
    page = client.get("/api/v1/audit", params={"subject_id": sid}, headers=toko.headers).json()
    actions = [e["action"] for e in page["items"]]
    assert actions[:2] == ["consent.withdrawn", "consent.granted"]
    assert "sari@" not in str(page)


def test_ledger_pages_and_summary(client, toko):
    ids = [_subject(client, toko, f"l{i}@contoh.example")["id"] for i in range(3)]
    for sid in ids:
        assert _event(client, toko, sid).status_code == 201
    _event(client, toko, ids[0], action="withdrawn", text="", method="button")
    seen = []
    cursor = None
    while True:
        params = {"purpose": "newsletter", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/consent/events", params=params, headers=toko.headers).json()
        seen += [(e["subject_id"], e["action"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and seen[0] == (ids[0], "withdrawn")
    assert sorted(seen[1:]) == sorted((sid, "granted") for sid in ids)
    only = client.get(
        "/api/v1/consent/events", params={"action": "withdrawn"}, headers=toko.headers
    ).json()["items"]
    assert [e["subject_id"] for e in only] == [ids[0]]
    summary = client.get("/api/v1/consent/summary", headers=toko.headers).json()
    assert summary == [
        {"purpose": "newsletter", "granted": 2, "withdrawn": 1, "expired": 0, "renewal_marked": 0}
    ]
