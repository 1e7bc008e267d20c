"""The per-subject view of the audit trail ("rekam jejak pemrosesan") for access exports.

Data subjects read this, so each event is described in plain words (id, en) instead of action
codes, and staff, keys and addresses are reduced to the kind of actor. Bulk events name no
subject (only a count and a digest), so they do not appear here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from privasi.audit.models import AuditEvent
from privasi.db import PrivasiSession

MAX_EVENTS = 10_000

# What was acted on: (Indonesian, English)
DOMAINS: dict[str, tuple[str, str]] = {
    "subject": ("data pribadi Anda", "your personal data"),
    "profile": ("data pribadi Anda", "your personal data"),
    "consent": ("persetujuan Anda", "your consent"),
    "request": ("permintaan Anda", "your request"),
    "rights": ("permintaan Anda", "your request"),
    "identity": ("verifikasi identitas Anda", "your identity check"),
    "retention": ("data Anda sesuai aturan masa simpan", "your data under the retention rule"),
    "breach": ("pemberitahuan insiden data", "the data incident notice"),
    "gateway": ("data Anda dalam pemrosesan AI", "your data in AI processing"),
    "notify": ("pesan kepada Anda", "a message to you"),
    "connector": ("data Anda di sistem bisnis", "your data in a business system"),
    "export": ("salinan data Anda", "the copy of your data"),
    "audit": ("rekam jejak pemrosesan Anda", "your processing record"),
}
# What happened to it: (Indonesian, English)
VERBS: dict[str, tuple[str, str]] = {
    "planned": ("direncanakan", "planned"),
    "task_done": ("dikerjakan pada satu sistem", "carried out in one system"),
    "task_skipped": ("dilewati pada satu sistem", "skipped in one system"),
    "code_sent": ("dimulai dengan kode verifikasi", "started with a verification code"),
    "overdue": ("melewati batas waktu", "past its deadline"),
    "assigned": ("ditugaskan kepada staf", "assigned to a staff member"),
    "matched": ("dicocokkan dengan data Anda", "matched to your records"),
    "cancelled": ("dibatalkan", "cancelled"),
    "awaiting_requester": ("menunggu keterangan dari Anda", "waiting for information from you"),
    "resumed": ("dilanjutkan", "resumed"),
    "retried": ("dijalankan ulang", "run again"),
    "routed": ("diteruskan kepada pengendali data", "passed to the data controller"),
    "routed_in": ("diterima dari pemroses data", "received from the data processor"),
    "prepared": ("disiapkan", "prepared"),
    "read": ("dibaca", "read"),
    "viewed": ("dilihat", "viewed"),
    "accessed": ("diakses", "accessed"),
    "created": ("dicatat", "recorded"),
    "recorded": ("dicatat", "recorded"),
    "updated": ("diperbarui", "updated"),
    "rectified": ("diperbaiki", "corrected"),
    "deleted": ("dihapus", "deleted"),
    "erased": ("dihapus", "erased"),
    "shredded": ("dimusnahkan", "destroyed"),
    "exported": ("diekspor", "exported"),
    "given": ("diberikan", "given"),
    "granted": ("diberikan", "given"),
    "withdrawn": ("ditarik", "withdrawn"),
    "revoked": ("dicabut", "revoked"),
    "received": ("diterima", "received"),
    "submitted": ("diajukan", "submitted"),
    "verified": ("diverifikasi", "verified"),
    "approved": ("disetujui", "approved"),
    "denied": ("ditolak", "refused"),
    "completed": ("diselesaikan", "completed"),
    "sent": ("dikirim", "sent"),
    "pseudonymised": ("disamarkan", "pseudonymised"),
    "restricted": ("dibatasi", "restricted"),
    "swept": ("diproses", "processed"),
}
ACTORS: dict[str, tuple[str, str]] = {
    "staff": ("staf organisasi", "a staff member"),
    "api_key": ("sistem bisnis (API)", "a business system (API)"),
    "system": ("otomatis oleh privasi", "automatically by privasi"),
    "subject": ("Anda", "you"),
}


def describe(action: str, lang: str = "id") -> str:
    """A sentence for an action code, e.g. ``consent.withdrawn`` -> "Persetujuan Anda ditarik"."""
    index = 0 if lang == "id" else 1
    domain, _, verb = action.partition(".")
    verb = verb.rsplit(".", 1)[-1]
    if domain not in DOMAINS or verb not in VERBS:
        return action
    thing, happened = DOMAINS[domain][index], VERBS[verb][index]
    sentence = f"{thing} {happened}" if index == 0 else f"{thing} was {happened}"
    return sentence[0].upper() + sentence[1:]


def actor_label(actor: str, lang: str = "id") -> str:
    kind = actor.split(":", 1)[0]
    labels = ACTORS.get(kind)
    return actor if labels is None else labels[0 if lang == "id" else 1]


def subject_trail(
    session: PrivasiSession, subject_id: str, lang: str = "id"
) -> list[dict[str, Any]]:
    """Every event about one subject, oldest first, as the subject should see it."""
    session.require_org()
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.seq)
        .limit(MAX_EVENTS)
    )
    return [
        {
            "time": event.occurred_at.isoformat(),
            "action": event.action,
            "description": describe(event.action, lang),
            "purpose": event.purpose,
            "by": actor_label(event.actor, lang),
        }
        for event in events
    ]
