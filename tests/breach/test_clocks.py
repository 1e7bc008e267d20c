"""The notice clocks at their boundaries (time injected), escalations once each, processor mode
and the dashboard's list."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from privasi.breach import jobs, notices, views
from privasi.breach import service as breaches
from privasi.breach.models import BreachNotice
from privasi.db import utcnow
from privasi.errors import InvalidTransition, ValidationFailed
from privasi.notify.models import OutboxMessage
from privasi.orgs import service as orgs

from .conftest import DETECTED, POLICY, publish

S = timedelta(seconds=1)
TEXTS = {
    "categories": ["contact"],
    "description": {
        "id": "Kunci API bocor di repositori publik.",
        "en": "An API key leaked in a public repository.",
    },
    "measures": {
        "id": "Kunci dicabut dan log diperiksa.",
        "en": "The key was revoked and logs reviewed.",
    },
}


def _reminders(db, org_id):
    with db.session(org_id) as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "breach_clock_reminder")
        )
        return sorted(m.dedupe_key or "" for m in rows)


def test_clocks_and_escalations_at_their_boundaries(db, clinic):
    with db.session(clinic.id) as s:
        breach = breaches.create(
            s, clinic.dpo, title="Kunci API bocor", detected_at=DETECTED, **TEXTS
        )
        breach_id = breach.id
        # UU PDP: 72 hours from awareness, to the people and to the authority.
        assert breach.subjects_due_at == breach.authority_due_at == DETECTED + timedelta(hours=72)
        assert breach.business_users_due_at is None
        assert breach.clock_basis == "id-pdp:PT72H"

    def at(now):
        with db.session(clinic.id) as s:
            return jobs.escalate(s, breaches.get(s, breach_id), now)

    assert at(DETECTED + timedelta(hours=36) - S) == 0
    # 50%: each of the two clocks tells the DPO and the owner.
    assert at(DETECTED + timedelta(hours=36)) == 4
    assert at(DETECTED + timedelta(hours=36)) == 0
    assert at(DETECTED + timedelta(hours=50)) == 0
    assert at(DETECTED + timedelta(hours=64.8) - S) == 0
    assert at(DETECTED + timedelta(hours=64.8)) == 4
    assert at(DETECTED + timedelta(hours=70)) == 0
    keys = _reminders(db, clinic.id)
    assert len(keys) == 8 and len(set(keys)) == 8
    assert any(k.endswith(f"subjects:90:{clinic.dpo.actor_id}") for k in keys)

    due = DETECTED + timedelta(hours=72)
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        at_due = {c["name"]: c for c in views.clock_views(s, breach, due)}
        after = {c["name"]: c for c in views.clock_views(s, breach, due + S)}
        assert at_due["subjects"]["time_left_seconds"] == 0 and not at_due["subjects"]["overdue"]
        assert after["subjects"]["time_left_seconds"] == -1 and after["subjects"]["overdue"]
        assert at_due["subjects"]["due_at_local"].startswith("2026-05-07T09:00:00+07:00")
        jobs.escalate(s, breach, due)
        assert "subjects:overdue" not in breach.escalations
        jobs.escalate(s, breach, due + S)
        jobs.escalate(s, breach, due + timedelta(hours=5))
        kinds = [e.kind for e in breaches.timeline(s, breach)]
    assert kinds.count("escalated") == 4 and kinds.count("clock_overdue") == 2


def test_a_sent_notice_stops_its_clock(db, clinic):
    with db.session(clinic.id) as s:
        breach = breaches.create(
            s, clinic.dpo, title="Kunci API bocor", detected_at=DETECTED, **TEXTS
        )
        notices.draft(s, clinic.dpo, breach)
        notices.approve(s, clinic.dpo, breach, "authority")
        notices.send(s, clinic.dpo, breach, "authority", submission="Portal, tiket 7")
        sent_at = notices.get_notice(s, breach, "authority").sent_at
        assert jobs.escalate(s, breach, DETECTED + timedelta(hours=40)) == 2  # subjects only
        clocks = {c.name: c for c in breaches.clocks(s, breach)}
        assert clocks["authority"].met_at == sent_at
        # Sent months after the 72 hours: met, but late, and the record says so.
        assert clocks["authority"].overdue(sent_at)
        assert breaches.next_due(s, breach).name == "subjects"


def test_dashboard_items_most_urgent_first(db, clinic):
    with db.session(clinic.id) as s:
        old = breaches.create(
            s, clinic.dpo, title="Lama", detected_at=DETECTED, severity="low", **TEXTS
        )
        recent_time = DETECTED + timedelta(days=200)
        recent = breaches.create(
            s, clinic.dpo, title="Baru", detected_at=recent_time, severity="critical", **TEXTS
        )
        done = breaches.create(s, clinic.dpo, title="Batal", detected_at=DETECTED, **TEXTS)
        breaches.close(s, clinic.dpo, done, "Bukan insiden.", dismissed=True)
        now = recent_time + timedelta(hours=1)
        items = breaches.dashboard_items(s, now)
    assert [i.title for i in items] == ["Lama", "Baru"]
    first = items[0]
    assert first.id == old.id and first.url == f"/admin/breaches/{old.id}"
    assert first.overdue and not items[1].overdue
    assert first.due_at == DETECTED + timedelta(hours=72) and first.due_at.tzinfo is not None
    assert (
        items[1].severity == "critical"
        and items[1].status == "detected"
        and items[1].id == recent.id
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.title = "x"  # type: ignore[misc]


def _processor_policy(slug: str) -> str:
    text = POLICY.read_text().replace("slug: klinik-contoh", f"slug: {slug}")
    text = text.replace("  role: controller", "  role: processor")
    return text.replace(
        "  channels: [email, whatsapp]\nchanges:",
        "  channels: [email, whatsapp]\n  notify_business_users: true\nchanges:",
    )


def test_processor_mode_tells_each_business_user_first(
    db, settings, make_org, smtp_server, use_settings, drain
):
    use_settings(smtp_url=smtp_server.url)
    platform = make_org("platform-contoh", role="processor")
    publish(db, platform.id, _processor_policy("platform-contoh"))
    with db.session(platform.id) as s:
        user, _ = orgs.create_staff(s, settings, email="dpo@platform.example", role="dpo")
        dpo = orgs.staff_principal(user)
    hosted = []
    for slug, contact in (
        ("bisnis-satu", "insiden@satu.example"),
        ("bisnis-dua", "insiden@dua.example"),
    ):
        handle = make_org(slug)
        publish(
            db,
            handle.id,
            POLICY.read_text()
            .replace("slug: klinik-contoh", f"slug: {slug}")
            .replace("contacts: [insiden@klinik.example]", f"contacts: [{contact}]"),
        )
        with db.session(handle.id) as s:
            orgs.create_hosting_grant(
                s,
                processor=orgs.get_org_by_slug(s, "platform-contoh"),
                actions=["org.read"],
                instructions="Kelola pesan pelanggan kami.",
                approved_subprocessors=[],
            )
        hosted.append(handle.id)
    stranger = make_org("bukan-pelanggan")
    with pytest.raises(ValidationFailed):
        notices.business_users_for(db, platform.id, [hosted[0], stranger.id])
    assert sorted(notices.business_users_for(db, platform.id, None)) == sorted(hosted)

    assert sorted(i for i, _ in notices.hosted_business_users(db, platform.id)) == sorted(hosted)
    with db.session(platform.id) as s:
        breach = breaches.create(
            s,
            dpo,
            title="Server pesan dibobol",
            detected_at=DETECTED,
            business_user_org_ids=hosted,
            **TEXTS,
        )
        breach_id = breach.id
        assert breach.business_users_due_at == DETECTED + timedelta(hours=24)
        # PRIVASI_BREACH_BUSINESS_USER_HOURS, as the API, the pages and the CLI pass it.
        shorter = breaches.create(
            s, dpo, title="Uji", detected_at=DETECTED, business_user_hours=6, **TEXTS
        )
        assert shorter.business_users_due_at == DETECTED + timedelta(hours=6)
        breaches.close(s, dpo, shorter, "Uji saja.", dismissed=True)
        assert [c.name for c in breaches.clocks(s, breach)] == [
            "business_users",
            "subjects",
            "authority",
        ]
        assert breaches.next_due(s, breach).name == "business_users"
        # 50% of the Business Users' 24 hours comes long before 50% of the 72 hours.
        assert jobs.escalate(s, breach, DETECTED + timedelta(hours=12)) == 1
        drafted = notices.draft(s, dpo, breach)
        assert [n.audience for n in drafted] == ["business_users", "subjects", "authority"]
        notices.approve(s, dpo, breach, "authority")
        with pytest.raises(InvalidTransition, match="Business Users first"):
            notices.send(s, dpo, breach, "authority", submission="Surat 1")
        notices.approve(s, dpo, breach, "business_users")
        stats = notices.send(s, dpo, breach, "business_users", db=db)
    assert stats == {"email": 2, "unreachable": 0}
    drain()
    received = [m for m in smtp_server.messages if m["To"] != "dpo@platform.example"]
    assert sorted(m["To"] for m in received) == ["insiden@dua.example", "insiden@satu.example"]
    assert any("Bisnis-Satu" in m["Subject"] for m in received)
    with db.session(platform.id) as s:
        jobs.check_org(s)
        breach = breaches.get(s, breach_id)
        assert notices.delivery_counts(s, breach) == {"business_users": {"sent": 2}}
        notice = s.scalar(select(BreachNotice).where(BreachNotice.audience == "business_users"))
        assert notice is not None and notice.sent_at is not None


def test_the_worker_escalates_and_tracks_on_its_own(db, clinic, smtp_server, use_settings):
    from privasi import worker

    use_settings(smtp_url=smtp_server.url)
    with db.session(clinic.id) as s:
        breach_id = breaches.create(
            s,
            clinic.dpo,
            title="Kunci API bocor",
            detected_at=utcnow() - timedelta(hours=40),
            **TEXTS,
        ).id
    worker.tick(db)
    worker.tick(db)  # a second tick in the same minute changes nothing
    with db.session(clinic.id) as s:
        breach = breaches.get(s, breach_id)
        assert sorted(breach.escalations) == ["authority:50", "subjects:50"]
    reminders = [m for m in smtp_server.messages if "Pengingat 50%" in m["Subject"]]
    assert sorted(m["To"] for m in reminders) == sorted([clinic.dpo_email, clinic.owner_email] * 2)
