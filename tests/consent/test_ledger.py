"""The consent ledger through the service: proof, rules per legal basis, minors, projection."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from privasi.audit import service as audit
from privasi.consent import service as consent
from privasi.consent.models import ConsentState
from privasi.errors import ValidationFailed
from privasi.subjects import service as subjects


def _subject(s, principal, email, **age):
    return subjects.find_or_create(s, principal, {"email": email}, **age)


def test_grant_keeps_its_proof_and_is_audited(db, toko, principal, proof):
    with db.session(toko.id) as s:
        sari = _subject(s, principal, "sari@contoh.example")
        event = consent.grant(s, principal, sari, "newsletter", proof())
        sid = sari.id
    with db.session(toko.id) as s:
        [stored] = consent.history(s, sid)
        assert stored.id == event.id and stored.action == "granted"
        assert stored.policy_version == 1  # filled in from the policy in effect
        assert stored.client_addr == "203.0.113.0/24"  # never the full address
        assert stored.channel == "web" and stored.method == "checkbox"
        assert stored.source == "https://toko.example/daftar"
        text = consent.texts(s, [stored.text_sha256])[stored.text_sha256]
        assert text.text.startswith("Saya ingin menerima buletin") and text.language == "id"
        [entry] = audit.query(s, subject_id=sid, action="consent.granted").items
        assert entry.purpose == "newsletter" and entry.details["event_id"] == event.id
        [decision] = consent.check(s, [sid], "newsletter")
        assert decision.allowed and decision.reason == "consent"


def test_withdrawal_takes_effect_at_once(db, toko, principal, proof):
    with db.session(toko.id) as s:
        sari = _subject(s, principal, "sari@contoh.example")
        consent.grant(s, principal, sari, "newsletter", proof())
        consent.withdraw(
            s, principal, sari, "newsletter", proof(text="", method="one-click", channel="email")
        )
        [decision] = consent.check(s, [sari.id], "newsletter")
        assert (decision.allowed, decision.reason) == (False, "withdrawn")
        assert [e.action for e in consent.history(s, sari.id)] == ["granted", "withdrawn"]
        consent.grant(s, principal, sari, "newsletter", proof())
        assert consent.check(s, [sari.id], "newsletter")[0].allowed


def test_only_consent_purposes_can_be_granted(db, toko, principal, proof):
    with db.session(toko.id) as s:
        sari = _subject(s, principal, "sari@contoh.example")
        with pytest.raises(consent.NotConsentBased):
            consent.grant(s, principal, sari, "orders", proof())
        with pytest.raises(consent.UnknownPurpose):
            consent.grant(s, principal, sari, "selling_lists", proof())
        with pytest.raises(ValidationFailed):
            consent.grant(s, principal, sari, "newsletter", proof(text="  "))
        with pytest.raises(ValidationFailed):
            consent.grant(s, principal, sari, "newsletter", proof(channel="pigeon"))
        assert consent.history(s, sari.id) == []


def test_check_per_legal_basis(db, toko, principal, proof):
    with db.session(toko.id) as s:
        plain = _subject(s, principal, "plain@contoh.example")
        restricted = _subject(s, principal, "restricted@contoh.example")
        objector = _subject(s, principal, "objector@contoh.example")
        for person in (plain, restricted, objector):
            consent.grant(s, principal, person, "newsletter", proof())
        subjects.set_restricted(s, principal, restricted, True)
        subjects.set_objection(s, principal, objector, "*", True)
        ids = [plain.id, restricted.id, objector.id, "no-such-subject"]

        def reasons(purpose):
            return [(d.allowed, d.reason) for d in consent.check(s, ids, purpose)]

        assert reasons("orders") == [
            (True, "contract"),
            (False, "restricted"),
            (True, "contract"),  # an objection does not stop what the contract needs
            (False, "unknown_subject"),
        ]
        assert reasons("tax_records")[:3] == [(True, "legal_obligation")] * 3
        assert reasons("fraud_prevention")[:3] == [
            (True, "legitimate_interest"),
            (False, "restricted"),
            (False, "objection"),
        ]
        assert reasons("newsletter")[:3] == [
            (True, "consent"),
            (False, "restricted"),
            (False, "objection"),
        ]
        assert reasons("whatsapp_promo")[0] == (False, "no_consent")
        assert reasons("selling_lists")[0] == (False, "unknown_purpose")


def test_minor_needs_a_linked_guardian(db, toko, principal, proof):
    with db.session(toko.id) as s:
        child = _subject(
            s, principal, "anak@contoh.example", birth_date=date.today() - timedelta(days=365 * 10)
        )
        parent = _subject(s, principal, "ayah@contoh.example", declared_age=41)
        stranger = _subject(s, principal, "orang@contoh.example", declared_age=35)
        with pytest.raises(consent.MinorNeedsGuardian):
            consent.grant(s, principal, child, "newsletter", proof())
        with pytest.raises(ValidationFailed):
            consent.grant(s, principal, child, "newsletter", proof(guardian_id=stranger.id))
        subjects.link_guardian(s, principal, child, parent, "parent")
        event = consent.grant(s, principal, child, "newsletter", proof(guardian_id=parent.id))
        assert event.guardian_id == parent.id
        [decision] = consent.check(s, [child.id], "newsletter")
        assert decision.allowed and decision.reason == "consent"


def test_consent_given_before_age_was_known_does_not_cover_a_minor(db, toko, principal, proof):
    with db.session(toko.id) as s:
        teen = _subject(s, principal, "remaja@contoh.example")
        consent.grant(s, principal, teen, "newsletter", proof())
        subjects.set_age(s, principal, teen, declared_age=15)
        [decision] = consent.check(s, [teen.id], "newsletter")
        assert (decision.allowed, decision.reason) == (False, "minor_without_guardian")


def test_policy_without_guardian_consent_refuses_minors(db, make_org, proof):
    from pathlib import Path

    from privasi.orgs import service as orgs
    from privasi.policy import service as policies

    source = (Path(__file__).parent / "data" / "toko.yaml").read_text()
    source = source.replace("guardian_consent: true", "guardian_consent: false")
    org = make_org("toko-contoh")
    principal = orgs.system_principal(org.id)
    with db.session(org.id) as s:
        policies.publish(s, principal, policies.create_draft(s, principal, source))
        child = _subject(s, principal, "anak@contoh.example", declared_age=12)
        parent = _subject(s, principal, "ibu@contoh.example", declared_age=38)
        subjects.link_guardian(s, principal, child, parent, "parent")
        with pytest.raises(consent.MinorsNotAccepted):
            consent.grant(s, principal, child, "newsletter", proof(guardian_id=parent.id))


def test_cookie_categories_are_consent_purposes(db, toko, principal, proof):
    with db.session(toko.id) as s:
        visitor = subjects.find_or_create(s, principal, {"visitor": "v_3f9a2c1b7d"}, kind="visitor")
        assert consent.check(s, [visitor.id], "cookie:essential")[0].reason == "essential"
        assert consent.check(s, [visitor.id], "cookie:analytics")[0].reason == "no_consent"
        consent.grant(s, principal, visitor, "cookie:analytics", proof(method="button"))
        assert consent.check(s, [visitor.id], "cookie:analytics")[0].allowed
        # advertising is not declared by this policy
        assert consent.check(s, [visitor.id], "cookie:advertising")[0].reason == "unknown_purpose"
        with pytest.raises(consent.NotConsentBased):
            consent.grant(s, principal, visitor, "cookie:essential", proof())


def test_renewal_after_material_change_expires_the_grant(db, toko, principal, proof):
    from pathlib import Path

    from privasi.policy import service as policies

    source = (Path(__file__).parent / "data" / "toko.yaml").read_text()
    with db.session(toko.id) as s:
        sari = _subject(s, principal, "sari@contoh.example")
        # proof may only name a published version
        with pytest.raises(ValidationFailed):
            consent.grant(s, principal, sari, "newsletter", proof(policy_version=2))
        draft = policies.create_draft(s, principal, source.replace("Toko Contoh\n", "Toko C\n"))
        policies.publish(s, principal, draft, date.today() + timedelta(days=5))
        consent.grant(s, principal, sari, "newsletter", proof())
        assert consent.granted_subjects(s, "newsletter") == [sari.id]
        assert consent.mark_renewal(s, sari.id, "newsletter", 2, date.today() + timedelta(days=5))
        assert consent.check(s, [sari.id], "newsletter")[0].allowed  # not yet in effect
        consent.mark_renewal(s, sari.id, "newsletter", 2, date.today())
        assert consent.check(s, [sari.id], "newsletter")[0].reason == "expired"
        consent.grant(s, principal, sari, "newsletter", proof(policy_version=2))
        assert consent.check(s, [sari.id], "newsletter")[0].allowed
        # a grant under the new version is not marked again
        assert not consent.mark_renewal(s, sari.id, "newsletter", 2, date.today())


def test_bulk_record_and_check(db, toko, principal, proof):
    with db.session(toko.id) as s:
        ids = [_subject(s, principal, f"pelanggan{i}@contoh.example").id for i in range(30)]
        events = consent.record_many(
            s, principal, ids, "newsletter", "granted", proof(method="import")
        )
        assert len(events) == 30
        consent.record_many(s, principal, ids[:10], "newsletter", "withdrawn", proof(text=""))
        decisions = consent.check(s, ids, "newsletter")
        assert [d.allowed for d in decisions] == [False] * 10 + [True] * 20
        [entry] = audit.query(s, action="consent.withdrawn").items
        assert entry.count == 10 and entry.subject_id is None
        states = {st.subject_id: st for st in s.scalars(select(ConsentState))}
        assert states[ids[0]].seq == 2 and states[ids[20]].seq == 1


def test_withdrawal_consequences_in_both_languages(db, toko):
    from privasi.consent.purposes import policy_in_effect

    with db.session(toko.id) as s:
        policy, number = policy_in_effect(s)
    assert number == 1
    assert consent.withdrawal_consequences(policy, "newsletter", "id").startswith("Anda tidak lagi")
    assert consent.withdrawal_consequences(policy, "newsletter", "en").startswith("You no longer")
    assert consent.withdrawal_consequences(policy, "orders", "en") is None
