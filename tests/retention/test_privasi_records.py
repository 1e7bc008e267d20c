"""privasi's own records: a subject's whole record ends in a shred once every rule covering the
person has run out; withdrawn marketing consents go when their rule says; holds and open requests
keep what they cover."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from privasi.consent import checks
from privasi.consent import service as consent
from privasi.consent.models import ConsentEvent, ConsentState
from privasi.errors import ValidationFailed
from privasi.retention import service as retention
from privasi.retention.holds import place, release
from privasi.rights import service as rights
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject, SubjectIdentifier
from privasi.vault.service import vault_for

from .conftest import T0, principal

YEAR = timedelta(days=366)


def _person(db: Any, org_id: str, email: str, state: str, **clocks: Any) -> str:
    with db.session(org_id) as s:
        subject = subjects.find_or_create(s, principal(org_id), {"email": email})
        subject.state = state
        for event, at in clocks.items():
            retention.record_clock(s, principal(org_id), subject.id, event, at)
        return subject.id


def _exists(db: Any, org_id: str, subject_id: str) -> bool:
    with db.session(org_id) as s:
        return s.get(Subject, subject_id) is not None


def _subjects_due(db: Any, org_id: str, rule: str, now: Any) -> int | None:
    with db.session(org_id) as s:
        plan = {p.rule_id: p for p in retention.plan(s, now)}
    return next(i.due for i in plan[rule].items if i.table == "subjects")


def test_whole_record_expires_only_when_every_rule_covering_the_person_has(
    db: Any, business: Any
) -> None:
    biz = business("digimetalab")
    org = biz.org_id
    lead_old = _person(db, org, "lama@contoh.example", "lead", last_interaction=T0 - 3 * YEAR)
    lead_new = _person(db, org, "baru@contoh.example", "lead", last_interaction=T0 - YEAR)
    client = _person(db, org, "klien@contoh.example", "client", last_interaction=T0 - 3 * YEAR)
    former = _person(
        db,
        org,
        "mantan@contoh.example",
        "former_client",
        project_completed=T0 - 8 * YEAR,
        contract_end=T0 - 6 * YEAR,
    )
    assert _subjects_due(db, org, "inquiries", T0) == 1

    runs = retention.run_all(db, org, now=T0, owner="test")
    assert not _exists(db, org, lead_old)
    assert all(_exists(db, org, s) for s in (lead_new, client, former))
    with db.session(org) as s:
        assert vault_for(s).is_shredded(org, lead_old)
        assert not s.scalars(
            select(SubjectIdentifier).where(SubjectIdentifier.subject_id == lead_old)
        ).all()
    inquiries = next(r for r in runs if r.rule_id == "inquiries")
    assert (inquiries.deleted, inquiries.shredded) == (1, 1)

    # Seven years after the project the client-project rule has run out, but the ten-year
    # bookkeeping rule has not: the record stays until both have.
    retention.run_all(db, org, now=T0 + YEAR, owner="test")
    assert _exists(db, org, former)
    retention.run_all(db, org, now=T0 + 5 * YEAR, owner="test")
    assert not _exists(db, org, former)
    assert _exists(db, org, client)  # a client is never swept as an old enquiry


def test_a_held_subject_and_one_with_an_open_request_are_kept(db: Any, business: Any) -> None:
    biz = business("aspire")
    org = biz.org_id
    held = _person(db, org, "ditahan@contoh.example", "former_user", account_closed=T0 - 6 * YEAR)
    asking = _person(
        db, org, "bertanya@contoh.example", "former_user", account_closed=T0 - 6 * YEAR
    )
    gone = _person(db, org, "selesai@contoh.example", "former_user", account_closed=T0 - 6 * YEAR)
    with db.session(org) as s:
        hold = place(
            s, principal(org), scope="subject", target=held, reason="Sengketa kredit", owner="Legal"
        )
        hold_id = hold.id
        rights.submit(s, principal(org), type="access", channel="email", subject_id=asking)
    assert _subjects_due(db, org, "user_data", T0) == 1
    with db.session(org) as s:
        plan = {p.rule_id: p for p in retention.plan(s, T0)}
    assert [i.held for i in plan["user_data"].items if i.table == "subjects"] == [1]
    retention.run_rule(db, org, "user_data", now=T0, owner="test")
    assert _exists(db, org, held) and _exists(db, org, asking)
    assert not _exists(db, org, gone)

    with db.session(org) as s:
        release(s, principal(org), s.get(type(hold), hold_id), "Sengketa selesai")
    retention.run_rule(db, org, "user_data", now=T0, owner="test")
    assert not _exists(db, org, held)


def test_withdrawn_marketing_consent_is_deleted_and_checks_still_say_no(
    db: Any, business: Any
) -> None:
    biz = business("aspire")
    org = biz.org_id
    proof = consent.Proof(None, "Kirimi saya promo.", "id", "web", "checkbox")
    with db.session(org) as s:
        p = principal(org)
        quitter = subjects.find_or_create(s, p, {"email": "berhenti@contoh.example"})
        keeper = subjects.find_or_create(s, p, {"email": "tetap@contoh.example"})
        for person in (quitter, keeper):
            consent.grant(s, p, person, "marketing", proof)
        consent.withdraw(s, p, quitter, "marketing", proof)
        quitter_id, keeper_id = quitter.id, keeper.id
    now = T0.replace(year=2030)  # P0D after withdrawal: due at once
    with db.session(org) as s:
        plan = {p.rule_id: p for p in retention.plan(s, now)}
    assert [i.due for i in plan["marketing_preferences"].items if i.table == "consent"] == [1]

    run = retention.run_rule(db, org, "marketing_preferences", now=now, owner="test")
    assert run.deleted == 1
    with db.session(org) as s:
        left = s.scalars(select(ConsentEvent.subject_id).where(ConsentEvent.purpose == "marketing"))
        assert set(left) == {keeper_id}
        assert s.get(ConsentState, (quitter_id, "marketing")) is None
        decisions = {
            d.subject_id: d.allowed for d in checks.check(s, [quitter_id, keeper_id], "marketing")
        }
    assert decisions == {quitter_id: False, keeper_id: True}


def test_clock_events_are_validated(db: Any, business: Any) -> None:
    biz = business("crm")
    subject_id = _person(db, biz.org_id, "jam@contoh.example", "active_account")
    with db.session(biz.org_id) as s, pytest.raises(ValidationFailed):
        retention.record_clock(s, principal(biz.org_id), subject_id, "collected", T0)
    with db.session(biz.org_id) as s:
        retention.record_clock(s, principal(biz.org_id), subject_id, "last_interaction", T0)
        retention.record_clock(s, principal(biz.org_id), subject_id, "last_interaction", T0 - YEAR)
        clocks = retention.clocks_of(s, subject_id)
    assert [(c.event, c.occurred_at) for c in clocks] == [("last_interaction", T0)]
