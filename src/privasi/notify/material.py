"""Telling people about a material policy change before it takes effect (UU PDP Pasal 21(2)).

Publishing a version with material changes queues the job ``notify.material_change``. It finds
the consent-based purposes the change touches, marks every standing grant for them as needing
renewal from the new version's effective date, and queues one message per person (their e-mail,
else WhatsApp; for a child, to the guardian who consented) asking them to consent again, in the
language they consented in. Running it again marks nothing twice and sends nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.consent import renewal
from privasi.consent import service as consent
from privasi.db import Database, PrivasiSession
from privasi.errors import NotFound
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.policy.diff import diff_policies
from privasi.policy.models import PolicyVersion
from privasi.policy.schema import Policy
from privasi.subjects import service as subjects

log = logging.getLogger("privasi.notify")

JOB = "notify.material_change"
BATCH = 200  # subjects per transaction: a large list never holds one long write lock


def _previous(session: PrivasiSession, version: PolicyVersion) -> PolicyVersion | None:
    """The published version the new one replaces: the latest one taking effect before it."""
    assert version.effective_date is not None
    candidates = session.scalars(
        select(PolicyVersion)
        .where(
            PolicyVersion.status == "published",
            PolicyVersion.id != version.id,
            PolicyVersion.effective_date <= version.effective_date,
        )
        .order_by(PolicyVersion.effective_date.desc(), PolicyVersion.number.desc())
    )
    for candidate in candidates:
        if candidate.effective_date == version.effective_date and candidate.number > version.number:
            continue
        return candidate
    return None


def _language(session: PrivasiSession, subject_id: str, purposes: list[str], default: str) -> str:
    """The language the person consented in (the last event for one of these purposes)."""
    for state in consent.current_states(session, subject_id):
        if state.purpose in purposes and state.event_id:
            try:
                language = consent.get_event(session, state.event_id).language
            except NotFound:
                continue
            if language in ("id", "en"):
                return language
    return default


def _addressee(session: PrivasiSession, subject_id: str, purposes: list[str]) -> str:
    """Who is asked: the guardian who gave a child's consent, else the person themselves."""
    for state in consent.current_states(session, subject_id):
        if state.purpose in purposes and state.guardian_id:
            return state.guardian_id
    return subject_id


def _channel(session: PrivasiSession, subject_id: str) -> str | None:
    subject = subjects.get_subject(session, subject_id)
    for channel in ("email", "whatsapp"):
        if subjects.contact_for(session, subject, channel):
            return channel
    return None


def _names(policy: Policy, purposes: dict[str, list[str]], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "name": policy.purpose(pid).name.get(lang),
            "changes": renewal.reasons_text(reasons, lang),
        }
        for pid, reasons in purposes.items()
    ]


def notify_material_change(db: Database, org_id: str, version_id: str) -> dict[str, int]:
    """Mark and tell everyone whose consented purposes the version changes; returns counts."""
    settings = notify.settings_for(db)
    principal = orgs.system_principal(org_id, "material-change")
    with db.session(org_id) as session:
        version = policies.get_version(session, version_id)
        if version.status != "published" or version.effective_date is None:
            return {"purposes": 0, "subjects": 0, "marked": 0, "queued": 0, "unreachable": 0}
        previous = _previous(session, version)
        if previous is None:
            return {"purposes": 0, "subjects": 0, "marked": 0, "queued": 0, "unreachable": 0}
        new = policies.to_policy(session, version)
        touched = renewal.touched_purposes(
            diff_policies(policies.to_policy(session, previous), new), new
        ).purposes
        people: dict[str, list[str]] = {}
        for purpose in touched:
            for subject_id in consent.granted_subjects(session, purpose):
                people.setdefault(subject_id, []).append(purpose)
        org = orgs.get_org(session, org_id)
        slug, number, effective = org.slug, version.number, version.effective_date
    default_lang = new.languages[0].value if new.languages else "id"
    base = settings.public_url
    counts = {"purposes": len(touched), "subjects": len(people), "marked": 0, "queued": 0}
    counts["unreachable"] = 0
    ids = sorted(people)
    for start in range(0, len(ids), BATCH):
        with db.session(org_id) as session:
            version = policies.get_version(session, version_id)
            for subject_id in ids[start : start + BATCH]:
                purposes = people[subject_id]
                for purpose in purposes:
                    if renewal.mark_needs_renewal(
                        session, subject_id, purpose, version, principal=principal
                    ):
                        counts["marked"] += 1
                addressee = _addressee(session, subject_id, purposes)
                channel = _channel(session, addressee)
                if channel is None:
                    counts["unreachable"] += 1
                    continue
                lang = _language(session, subject_id, purposes, default_lang)
                notify.enqueue(
                    session,
                    channel=channel,
                    template="reconsent",
                    lang=lang,
                    subject_id=addressee,
                    params={
                        "effective_date": effective.isoformat(),
                        "purposes": _names(new, {p: touched[p] for p in purposes}, lang),
                        "consent_url": f"{base}/privacy/{slug}/consent",
                        "notice_url": f"{base}/privacy/{slug}/versions/{number}",
                    },
                    dedupe_key=f"reconsent:{version_id}:{subject_id}",
                )
                counts["queued"] += 1
    with db.session(org_id) as session:
        audit.record(
            session,
            principal,
            "policy.change_notified",
            details={"version": number, **counts},
        )
    log.info("material change notified", extra={"version": number, **counts})
    return counts


@jobs.handler(JOB)
def _material_change_job(db: Database, job: Job) -> dict[str, Any]:
    assert job.org_id is not None
    return notify_material_change(db, job.org_id, str(job.payload["version_id"]))
