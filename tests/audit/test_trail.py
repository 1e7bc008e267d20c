"""The subject's own view of their processing record, in Indonesian and English."""

from __future__ import annotations

from privasi.audit import service as audit
from privasi.db import Database
from privasi.orgs.service import Principal, system_principal


def test_trail_in_plain_words(vault, db: Database, org_id: str) -> None:
    staff = Principal(org_id, "staff", "staff-7", frozenset(), org_id, client_addr="203.0.113.0/24")
    with db.session(org_id) as s:
        audit.record(s, staff, "subject.read", subject_id="ani", purpose="layanan pelanggan")
        audit.record(s, system_principal(org_id), "consent.withdrawn", subject_id="ani")
        audit.record(s, staff, "subject.read", subject_id="budi")
        audit.record(s, staff, "widget.frobbed", subject_id="ani")
        audit.record(s, staff, "subject.exported", subject_ids=["ani", "budi"])
    with db.session(org_id) as s:
        in_id = audit.subject_trail(s, "ani")
        in_en = audit.subject_trail(s, "ani", lang="en")
    assert [e["description"] for e in in_id] == [
        "Data pribadi Anda dibaca",
        "Persetujuan Anda ditarik",
        "widget.frobbed",
    ]
    assert in_en[1]["description"] == "Your consent was withdrawn"
    assert [e["by"] for e in in_en] == [
        "a staff member",
        "automatically by privasi",
        "a staff member",
    ]
    assert in_id[0]["purpose"] == "layanan pelanggan"
    assert "staff-7" not in str(in_id) and "203.0.113" not in str(in_id)
