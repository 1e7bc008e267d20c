"""Reading a subject's personal data through the API is an audit event the subject can see."""

from __future__ import annotations

from privasi.audit import service as audit
from privasi.audit.trail import subject_trail


def test_staff_read_shows_in_the_subjects_processing_record(client, db, make_org):
    org = make_org("toko-baca")
    created = client.post(
        "/api/v1/subjects",
        json={"identifiers": {"email": "sari.wulandari@contoh.example"}},
        headers=org.headers,
    )
    assert created.status_code == 201, created.text
    subject_id = created.json()["id"]
    read = client.get(f"/api/v1/subjects/{subject_id}", headers=org.headers)
    assert read.status_code == 200
    assert read.json()["identifiers"]["email"] == ["sari.wulandari@contoh.example"]
    with db.session(org.id) as s:
        page = audit.query(s, subject_id=subject_id, action="subject.read")
        assert len(page.items) == 1 and page.items[0].actor.startswith("api_key:")
        assert all("sari" not in str(e.details) for e in page.items)
        trail = subject_trail(s, subject_id, "en")
    assert trail, "the subject's processing record lists the reads"
