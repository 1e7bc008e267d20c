"""Data subjects through the service: identifiers, duplicates, conflicts, age and guardians."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from privasi.audit import service as audit
from privasi.errors import ValidationFailed
from privasi.policy import load_policy
from privasi.subjects import service as subjects
from privasi.subjects.models import SubjectIdentifier
from privasi.subjects.service import SubjectsConflict


def test_identifiers_are_normalised_encrypted_and_found(db, toko, principal):
    with db.session(toko.id) as s:
        subject = subjects.find_or_create(
            s, principal, {"email": " Sari.Dewi@Contoh.example ", "phone": "0812-3456-7890"}
        )
        sid = subject.id
    with db.session(toko.id) as s:
        assert subjects.find_by_identifier(s, "email", "sari.dewi@contoh.example").id == sid
        assert subjects.find_by_identifier(s, "phone", "+62 812 3456 7890").id == sid
        # a WhatsApp id is the same number without the plus sign
        assert subjects.find_by_identifier(s, "whatsapp", "6281234567890").id == sid
        assert subjects.find_by_identifier(s, "email", "other@contoh.example") is None
        found = subjects.identifiers(s, subjects.get_subject(s, sid))
        assert found == {"email": ["sari.dewi@contoh.example"], "phone": ["+6281234567890"]}
        assert subjects.contact_for(s, subjects.get_subject(s, sid), "email") == (
            "sari.dewi@contoh.example"
        )
        assert subjects.contact_for(s, subjects.get_subject(s, sid), "whatsapp") == "6281234567890"
    # nothing readable in the main database
    with db.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM subject_identifiers")))
    assert "sari" not in dump.lower() and "81234567890" not in dump


def test_same_identifier_returns_the_same_subject(db, toko, principal):
    with db.session(toko.id) as s:
        first = subjects.find_or_create(s, principal, {"email": "budi@contoh.example"}).id
    with db.session(toko.id) as s:
        again = subjects.find_or_create(
            s, principal, {"email": "BUDI@contoh.example", "external": "cust-0042"}
        )
        assert again.id == first
        # the new identifier was attached to the existing subject
        assert subjects.find_by_identifier(s, "external", "cust-0042").id == first


def test_identifiers_of_two_subjects_conflict_naming_both(db, toko, principal):
    with db.session(toko.id) as s:
        a = subjects.find_or_create(s, principal, {"email": "ani@contoh.example"}).id
        b = subjects.find_or_create(s, principal, {"phone": "081311112222"}).id
    with db.session(toko.id) as s, pytest.raises(SubjectsConflict) as caught:
        subjects.find_or_create(
            s, principal, {"email": "ani@contoh.example", "phone": "081311112222"}
        )
    assert caught.value.extra["subject_ids"] == sorted([a, b])
    assert "ani@" not in caught.value.detail and "0813" not in caught.value.detail


def test_bad_identifiers_are_refused_without_echoing_them(db, toko, principal):
    with db.session(toko.id) as s:
        for ids in ({"email": "not-an-email"}, {"phone": "12"}, {"fax": "123"}, {}):
            with pytest.raises(ValidationFailed) as caught:
                subjects.find_or_create(s, principal, ids)
            assert "not-an-email" not in caught.value.detail


def test_concurrent_creation_makes_one_subject(db, toko, principal):
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            with db.session(toko.id) as s:
                results.append(
                    subjects.find_or_create(s, principal, {"email": "rina@contoh.example"}).id
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], [repr(e) for e in errors]
    assert len(set(results)) == 1
    with db.session(toko.id) as s:
        rows = list(s.scalars(select(SubjectIdentifier)))
        assert len(rows) == 1 and rows[0].subject_id == results[0]
        assert len(list(s.scalars(select(subjects.Subject)))) == 1


def test_age_makes_a_minor_until_the_policy_age(db, toko, principal):
    policy = load_policy(str(subjects_policy()))
    today = date.today()
    with db.session(toko.id) as s:
        child = subjects.find_or_create(
            s,
            principal,
            {"email": "anak@contoh.example"},
            birth_date=today - timedelta(days=365 * 12),
        )
        teen = subjects.find_or_create(
            s, principal, {"email": "remaja@contoh.example"}, declared_age=17
        )
        adult = subjects.find_or_create(
            s, principal, {"email": "dewasa@contoh.example"}, declared_age=30
        )
        unknown = subjects.find_or_create(s, principal, {"email": "anon@contoh.example"})
        assert subjects.is_minor(s, child, policy)
        assert subjects.is_minor(s, teen, policy)
        assert not subjects.is_minor(s, adult, policy)
        assert not subjects.is_minor(s, unknown, policy)
        assert subjects.minors_among(s, [child.id, teen.id, adult.id, unknown.id], policy) == {
            child.id,
            teen.id,
        }
        # a policy with a lower minimum age recomputes from the sealed birth date
        younger = policy.model_copy(
            update={"minors": policy.minors.model_copy(update={"minimum_age": 10})}
        )
        assert not subjects.is_minor(s, child, younger)
        assert subjects.minors_among(s, [child.id], younger) == set()
    with db.session(toko.id) as s, pytest.raises(ValidationFailed):
        subjects.find_or_create(
            s, principal, {"email": "future@contoh.example"}, birth_date=today + timedelta(days=2)
        )


def test_guardian_links_are_audited_and_adults_only(db, toko, principal):
    with db.session(toko.id) as s:
        child = subjects.find_or_create(
            s, principal, {"email": "anak@contoh.example"}, declared_age=9
        )
        parent = subjects.find_or_create(
            s, principal, {"email": "ibu@contoh.example"}, declared_age=40
        )
        other_child = subjects.find_or_create(
            s, principal, {"email": "adik@contoh.example"}, declared_age=7
        )
        link = subjects.link_guardian(s, principal, child, parent, "parent")
        assert subjects.is_guardian(s, child.id, parent.id)
        with pytest.raises(ValidationFailed):
            subjects.link_guardian(s, principal, child, other_child, "guardian")
        with pytest.raises(ValidationFailed):
            subjects.link_guardian(s, principal, child, parent, "neighbour")
        actions = [e.action for e in audit.query(s, subject_id=child.id).items]
        assert "subject.guardian_linked" in actions
        subjects.unlink_guardian(s, principal, child, parent.id)
        assert not subjects.is_guardian(s, child.id, parent.id)
        assert link.revoked_at is not None


def test_restriction_and_objection_are_recorded(db, toko, principal):
    with db.session(toko.id) as s:
        subject = subjects.find_or_create(s, principal, {"email": "eka@contoh.example"})
        subjects.set_restricted(s, principal, subject, True)
        subjects.set_objection(s, principal, subject, "fraud_prevention", True)
        subjects.set_objection(s, principal, subject, "fraud_prevention", True)
        assert subject.objections == ["fraud_prevention"]
        actions = [e.action for e in audit.query(s, subject_id=subject.id).items]
        assert actions.count("subject.objected") == 1 and "subject.restricted" in actions


def subjects_policy():
    from pathlib import Path

    return Path(__file__).parents[1] / "consent" / "data" / "toko.yaml"
