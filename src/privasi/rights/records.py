"""What the rights services share: numbers, names, sealed details, messages to the requester,
the evidence record and the requester's status page (which shows no personal data)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound
from privasi.notify import service as notify
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.rights import deadlines
from privasi.rights.models import RequestTask, RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.service import VaultError, vault_for

NUMBER_PREFIX = "REQ-"

DENIAL_GROUNDS = {
    "identity_not_verified": (
        "Identitas pemohon tidak dapat diverifikasi",
        "Identity not verified",
    ),
    "pasal_15_exception": (
        "Pengecualian menurut UU PDP Pasal 15 (misalnya pertahanan, penegakan hukum, "
        "kepentingan umum, statistik atau penelitian)",
        "An exception under UU PDP Article 15 (such as defence, law enforcement, the public "
        "interest, statistics or research)",
    ),
    "pasal_33_other_person": (
        "Akses akan mengungkap data pribadi orang lain (UU PDP Pasal 33)",
        "Access would reveal another person's personal data (UU PDP Article 33)",
    ),
}


TYPE_NAMES = {
    "access": ("akses data", "access to your data"),
    "portability": ("salinan data dalam format terstruktur", "a portable copy of your data"),
    "rectification": ("perbaikan data", "correction of your data"),
    "erasure": ("penghapusan data", "erasure of your data"),
    "restriction": ("pembatasan pemrosesan", "restriction of processing"),
    "objection": ("keberatan atas pemrosesan", "objection to processing"),
    "withdraw_consent": ("penarikan persetujuan", "withdrawal of consent"),
    "automated_decision_objection": (
        "keberatan atas keputusan otomatis",
        "objection to an automated decision",
    ),
}


def type_name(request_type: str, lang: str) -> str:
    names = TYPE_NAMES.get(request_type, (request_type, request_type))
    return names[0] if lang == "id" else names[1]


def display_number(request: RightsRequest) -> str:
    return f"{NUMBER_PREFIX}{request.number:06d}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit_step(
    session: PrivasiSession,
    principal: Principal,
    request: RightsRequest,
    action: str,
    **details: Any,
) -> None:
    audit.record(session, principal, **step_entry(request, action, **details))


def step_entry(request: RightsRequest, action: str, **details: Any) -> dict[str, Any]:
    """A request step's audit event, as ``audit.record``/``record_many`` take it."""
    return {
        "action": action,
        "subject_id": request.subject_id,
        "details": {"rights_request_id": request.id, "type": request.type, **details},
    }


def seal_details(
    session: PrivasiSession, request: RightsRequest, details: dict[str, Any] | None
) -> None:
    if not details:
        request.details_enc, request.details_key = None, None
        return
    vault = vault_for(session)
    aad = f"rights_request:{request.id}"
    if request.subject_id:
        request.details_enc = vault.encrypt_field(request.org_id, request.subject_id, details, aad)
        request.details_key = "subject"
    else:
        plain = json.dumps(details, ensure_ascii=False).encode()
        request.details_enc = vault.seal_for_org(request.org_id, "secrets", plain, aad)
        request.details_key = "org"


def details_of(session: PrivasiSession, request: RightsRequest) -> dict[str, Any]:
    """The request's details in the clear; empty once the subject's key is shredded."""
    if not request.details_enc:
        return {}
    vault = vault_for(session)
    aad = f"rights_request:{request.id}"
    try:
        if request.details_key == "subject" and request.subject_id:
            value = vault.decrypt_field(
                request.org_id, request.subject_id, request.details_enc, aad
            )
        else:
            value = json.loads(
                vault.open_for_org(request.org_id, "secrets", request.details_enc, aad)
            )
    except VaultError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def status_token(session: PrivasiSession, request: RightsRequest) -> str:
    """The token of the requester's status page (``/privacy/{org}/request/{token}``)."""
    return (
        vault_for(session)
        .open_for_org(
            request.org_id, "secrets", request.status_token_enc, f"rights_status:{request.id}"
        )
        .decode()
    )


def seal_note(session: PrivasiSession, org_id: str, aad: str, text: str | None) -> str | None:
    """Staff notes may quote an identity document or a name: kept under the organisation's key
    (not the subject's, so the evidence of how a request was handled outlives an erasure)."""
    if not text:
        return None
    return vault_for(session).seal_for_org(org_id, "secrets", text.encode(), f"rights_note:{aad}")


def open_note(session: PrivasiSession, org_id: str, aad: str, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return (
            vault_for(session).open_for_org(org_id, "secrets", token, f"rights_note:{aad}").decode()
        )
    except VaultError:
        return None


def requester_id(request: RightsRequest) -> str | None:
    """The subject who asked: a guardian on record, else the subject the request is about."""
    return request.requester_subject_id or request.subject_id


def tell_requester(
    session: PrivasiSession,
    request: RightsRequest,
    template: str,
    extra: dict[str, Any] | None = None,
    *,
    to: str | None = None,
    occasion: str = "",
) -> bool:
    """A message to the requester through the outbox, when an address is on record."""
    if (request.outcome or {}).get("part_of"):
        return False  # a processor's part of a routed request: only the controller answers
    who = requester_id(request)
    if to is None:
        if who is None:
            return False
        subject = subjects.get_subject(session, who)
        if subjects.contact_for(session, subject, "email") is None:
            return False
    zone = deadlines.org_zone(session)
    params = {
        "number": display_number(request),
        "request_type": request.type,
        "type_name": type_name(request.type, request.lang),
        "due": request.due_at.astimezone(zone).isoformat(),
        **(extra or {}),
    }
    notify.enqueue(
        session,
        channel="email",
        template=template,
        lang=request.lang,
        params=params,
        subject_id=None if to is not None else who,
        to=to,
        dedupe_key=f"rights:{request.id}:{template}{occasion}",
    )
    return True


def tasks_of(session: PrivasiSession, request: RightsRequest) -> list[RequestTask]:
    return list(
        session.scalars(
            select(RequestTask)
            .where(RequestTask.request_id == request.id)
            .order_by(RequestTask.kind != "privasi", RequestTask.system_id, RequestTask.action)
        )
    )


# --- evidence and the requester's status page ------------------------------------------------


def evidence(session: PrivasiSession, request: RightsRequest) -> dict[str, Any]:
    """What was asked, when, how identity was checked, what was done where and when, what was
    kept and why, and whether the deadline was met. Ids and names only: no personal values."""
    events: list[Any] = []
    cursor: str | None = None
    while True:
        page = audit.query(session, subject_id=request.subject_id, limit=500, cursor=cursor)
        events.extend(
            e for e in page.items if (e.details or {}).get("rights_request_id") == request.id
        )
        cursor = page.next_cursor
        if cursor is None:
            break
    events.sort(key=lambda e: e.seq)
    now = utcnow()
    return {
        "request": {
            "id": request.id,
            "number": display_number(request),
            "type": request.type,
            "status": request.status,
            "channel": request.channel,
            "requester_kind": request.requester_kind,
            "requester_subject_id": request.requester_subject_id,
            "subject_id": request.subject_id,
            "received_at": request.received_at.isoformat(),
            "due_at": request.due_at.isoformat(),
            "due_at_local": deadlines.local_time(session, request.due_at),
            "deadline_basis": request.deadline_basis,
            "verified_at": request.verified_at.isoformat() if request.verified_at else None,
            "verification_method": request.verification_method,
            "verification_note": open_note(
                session, request.org_id, f"{request.id}:verification", request.verification_note
            ),
            "completed_at": request.completed_at.isoformat() if request.completed_at else None,
            "waiting_seconds": deadlines.waiting_seconds(request, now),
            "on_time": (request.completed_at or now) <= request.due_at,
            "denial_ground": request.denial_ground,
        },
        "tasks": [
            {
                "system": t.system_id,
                "kind": t.kind,
                "action": t.action,
                "status": t.status,
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                "completed_by": t.completed_by,
                "attempts": t.attempts,
                "result": t.result,
            }
            for t in tasks_of(session, request)
        ],
        "outcome": request.outcome,
        "timeline": [
            {
                "time": e.occurred_at.isoformat(),
                "action": e.action,
                "actor": e.actor,
                "seq": e.seq,
                "details": {k: v for k, v in (e.details or {}).items() if k != "rights_request_id"},
            }
            for e in events
        ],
    }


def request_status_public(db: Database, org_slug: str, token: str) -> dict[str, Any]:
    """What the requester's status page shows: number, type, status and dates, never data."""
    if not token or len(token) > 200:
        raise NotFound("request not found")
    with db.session(system=True) as system:
        org = orgs.find_org_by_slug(system, org_slug)
        if org is None:
            raise NotFound("request not found")
        org_id, org_name = org.id, org.name
    with db.session(org_id) as session:
        request = session.scalar(
            select(RightsRequest).where(RightsRequest.status_token_hash == token_hash(token))
        )
        if request is None:
            raise NotFound("request not found")
        return {
            "org_name": org_name,
            "number": display_number(request),
            "type": request.type,
            "status": request.status,
            "lang": request.lang,
            "received_at": deadlines.local_time(session, request.received_at),
            "due_at": deadlines.local_time(session, request.due_at),
            "verified": request.verified_at is not None,
            "completed_at": deadlines.local_time(session, request.completed_at),
            "denial_ground": request.denial_ground,
            "denial_reason": DENIAL_GROUNDS.get(request.denial_ground or ""),
        }


START_WORDS = {
    "collected": ("sejak dikumpulkan", "from collection"),
    "last_interaction": ("sejak interaksi terakhir", "from the last interaction"),
    "contract_end": ("sejak kontrak berakhir", "from the end of the contract"),
    "project_completed": ("sejak proyek selesai", "from the end of the project"),
    "consent_withdrawn": ("sejak persetujuan ditarik", "from the withdrawal of consent"),
    "account_closed": ("sejak akun ditutup", "from the closing of the account"),
}
UNIT_WORDS = {
    "Y": ("tahun", "years"),
    "M": ("bulan", "months"),
    "W": ("minggu", "weeks"),
    "D": ("hari", "days"),
    "H": ("jam", "hours"),
}


def _period_words(iso: str, index: int) -> str:
    date_part, _, time_part = iso.removeprefix("P").partition("T")
    parts = re.findall(r"(\d+)([YMWD])", date_part) + re.findall(r"(\d+)(H)", time_part)
    return " ".join(f"{n} {UNIT_WORDS[u][index]}" for n, u in parts)


def kept_lines(lang: str, kept: list[dict[str, Any]]) -> list[str]:
    """What was kept and why, one line each, in the requester's language."""
    index = 0 if lang == "id" else 1
    lines = []
    for item in kept:
        reason = item.get("reason") or {}
        text = reason.get(lang, "") if isinstance(reason, dict) else str(reason)
        how_long = ""
        if item.get("period"):
            start = START_WORDS.get(item.get("start") or "", ("", ""))[index]
            words = " ".join(
                w
                for w in (("disimpan", "kept")[index], _period_words(item["period"], index), start)
                if w
            )
            how_long = f" ({words})"
        categories = ", ".join(item.get("categories", []))
        lines.append(f"{categories}: {text}{how_long}".strip())
    return lines
