"""``identifiers_of``: a subject's identifiers by id in one query, as the connectors read them for
every task: the same values as ``identifiers``, and nothing for another organisation's
subject."""

from __future__ import annotations

from typing import Any

from privasi.subjects import service as subjects


def _sari(db: Any, org_id: str, principal: Any) -> str:
    with db.session(org_id) as s:
        subject = subjects.find_or_create(
            s, principal, {"email": "Sari.Dewi@contoh.example", "phone": "0812-3456-7890"}
        )
        subjects.add_identifiers(s, principal, subject, {"whatsapp": "6281299990000"})
        return subject.id


def test_identifiers_of_reads_what_identifiers_reads(db: Any, toko: Any, principal: Any) -> None:
    sid = _sari(db, toko.id, principal)
    with db.session(toko.id) as s:
        found = subjects.identifiers_of(s, sid)
        assert found == subjects.identifiers(s, subjects.get_subject(s, sid))
        assert found == {
            "email": ["sari.dewi@contoh.example"],
            "phone": ["+6281234567890"],
            "whatsapp": ["+6281299990000"],
        }
        assert subjects.identifiers_of(s, "no-such-subject") == {}


def test_another_organisation_reads_nothing(
    db: Any, toko: Any, principal: Any, make_org: Any
) -> None:
    sid = _sari(db, toko.id, principal)
    other = make_org("warung-lain")
    with db.session(other.id) as s:
        assert subjects.identifiers_of(s, sid) == {}
    with db.session(toko.id) as s:
        assert subjects.identifiers_of(s, sid)["email"] == ["sari.dewi@contoh.example"]
