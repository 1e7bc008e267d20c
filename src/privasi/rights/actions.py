"""What a request does in privasi's own store, one function per task action.

Each function runs inside the task's transaction and is safe to call again after a crash:
steps already recorded in ``task.result["steps"]`` are skipped.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from privasi.audit import service as audit
from privasi.audit.trail import subject_trail
from privasi.consent import service as consent
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import Conflict, ValidationFailed
from privasi.notify import service as notify
from privasi.orgs.service import Principal, system_principal
from privasi.policy import service as policies
from privasi.rights import service as rights
from privasi.rights.models import RequestTask, RightsRequest, Suppression
from privasi.subjects import identifiers as ident
from privasi.subjects import service as subjects
from privasi.subjects.models import Subject, SubjectIdentifier
from privasi.vault.service import get_secret, has_secret, vault_for

IDENTIFIER_FIELDS = ("email", "phone", "whatsapp", "external")
RECTIFIABLE = (*IDENTIFIER_FIELDS, "birth_date")
PROOF_CHANNEL = {
    "api": "api",
    "privacy_center": "web",
    "email": "email",
    "whatsapp": "whatsapp",
    "staff": "staff",
    "meta": "api",
}
# Kept after an erasure in privasi's own store, with no identifier left to link it to anyone.
KEPT_IN_PRIVASI = {
    "system": "privasi",
    "categories": ["consent_records", "audit_trail"],
    "reason": {
        "id": "Bukti persetujuan dan rekam jejak pemrosesan, tanpa identitas Anda "
        "(UU PDP Pasal 24 dan 31)",
        "en": "Proof of consent and the processing record, without anything identifying you "
        "(UU PDP Articles 24 and 31)",
    },
    "until": None,
}


def _principal(request: RightsRequest) -> Principal:
    return system_principal(request.org_id, "rights")


def _subject(session: PrivasiSession, request: RightsRequest) -> Subject:
    if request.subject_id is None:
        raise Conflict("the request is not matched to a subject")
    return subjects.get_subject(session, request.subject_id)


def _steps(task: RequestTask) -> list[str]:
    return list((task.result or {}).get("steps", []))


def _done(session: PrivasiSession, task: RequestTask, step: str, **extra: Any) -> None:
    result = dict(task.result or {})
    result["steps"] = [*result.get("steps", []), step]
    result.update(extra)
    task.result = result
    session.flush()


def _proof(request: RightsRequest) -> consent.Proof:
    return consent.Proof(
        policy_version=None,
        text=f"{rights.display_number(request)} ({request.type})",
        language=request.lang,
        channel=PROOF_CHANNEL.get(request.channel, "api"),
        method="form" if request.channel in ("privacy_center", "api") else "system",
    )


# --- access -------------------------------------------------------------------------------------


def run_access(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    """What privasi holds, counted; the copy itself is the export built for the download link."""
    subject = _subject(session, request)
    held = subjects.identifiers(session, subject)
    task.result = {
        **(task.result or {}),
        "identifier_kinds": sorted(held),
        "consent_events": len(consent.history(session, subject.id)),
        "processing_record_events": len(subject_trail(session, subject.id, request.lang)),
    }
    rights.audit_step(session, _principal(request), request, "export.prepared")


# --- erasure ------------------------------------------------------------------------------------


def _insert(session: PrivasiSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def run_erase(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    """Suppress, withdraw consents, delete identifiers (one commit), then shred the key."""
    subject = _subject(session, request)
    principal = _principal(request)
    steps = _steps(task)
    if "delete" not in steps:
        _erase_rows(session, request, task, subject, principal)
        # The database steps are committed before the key is destroyed: if the process stops
        # between the two, the retry finds them recorded and only shreds.
        session.commit()
        from privasi.rights.execution import lock_task

        task = lock_task(session, task.id)
    if "shred" not in _steps(task):
        vault_for(session).shred(request.org_id, subject.id, session=session)
        audit.record(
            session,
            principal,
            "subject.shredded",
            subject_id=subject.id,
            details={"rights_request_id": request.id},
        )
        _done(session, task, "shred", kept=[KEPT_IN_PRIVASI])


def _erase_rows(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    subject: Subject,
    principal: Principal,
) -> None:
    # A guardian's address is not erased with the child's data: only the subject's is captured.
    guardian = request.requester_subject_id is not None
    address = None if guardian else subjects.contact_for(session, subject, "email")
    if address is not None or guardian:
        tasks = rights.tasks_of(session, request)
        kept = [k for t in tasks for k in (t.result or {}).get("kept", [])]
        # Sealed under the organisation's key: the subject's key is about to be destroyed.
        rights.tell_requester(
            session,
            request,
            "rights_erasure_done",
            {"kept": rights.kept_lines(request.lang, [*kept, KEPT_IN_PRIVASI])},
            to=address,
        )
    rows = session.execute(
        select(SubjectIdentifier.kind, SubjectIdentifier.blind_index).where(
            SubjectIdentifier.subject_id == subject.id
        )
    ).all()
    if rows:
        session.execute(
            _insert(session)(Suppression).on_conflict_do_nothing(
                index_elements=["org_id", "kind", "blind_index"]
            ),
            [
                {
                    "id": new_id(),
                    "org_id": request.org_id,
                    "kind": kind,
                    "blind_index": index,
                    "request_id": request.id,
                    "created_at": utcnow(),
                }
                for kind, index in rows
            ],
        )
    withdrawn = []
    for state in consent.current_states(session, subject.id):
        if state.status == consent.GRANTED:
            consent.withdraw(session, principal, subject, state.purpose, _proof(request))
            withdrawn.append(state.purpose)
    session.execute(delete(SubjectIdentifier).where(SubjectIdentifier.subject_id == subject.id))
    subject.age_enc = None
    subject.state = "erased"
    subject.restricted = True
    subject.objections = ["*"]
    rights.seal_details(session, request, None)
    audit.record(
        session,
        principal,
        "subject.erased",
        subject_id=subject.id,
        details={
            "rights_request_id": request.id,
            "identifiers": len(rows),
            "consents_withdrawn": withdrawn,
        },
    )
    _done(session, task, "delete", suppressed=len(rows), consents_withdrawn=withdrawn)


def is_suppressed(session: PrivasiSession, kind: str, value: str) -> bool:
    """Whether an erased person had this identifier: marketing must not reach it again."""
    normalised = ident.normalise(kind, value)
    keys = ident.lookup_keys(vault_for(session), session.require_org(), kind, normalised)
    indexes = [b for _, b in keys]
    found = session.scalar(select(Suppression.id).where(Suppression.blind_index.in_(indexes)))
    return found is not None


# --- rectification ------------------------------------------------------------------------------


def run_rectify(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    subject = _subject(session, request)
    changes: dict[str, str] = rights.details_of(session, request).get("changes", {})
    principal = _principal(request)
    applied: list[str] = []
    for field, value in sorted(changes.items()):
        if field in IDENTIFIER_FIELDS:
            session.execute(
                delete(SubjectIdentifier).where(
                    SubjectIdentifier.subject_id == subject.id, SubjectIdentifier.kind == field
                )
            )
            subjects.add_identifiers(session, principal, subject, {field: value})
            applied.append(field)
        elif field == "birth_date":
            try:
                born = date.fromisoformat(value)
            except ValueError:
                raise ValidationFailed(
                    "birth_date must be YYYY-MM-DD", field="details.changes.birth_date"
                ) from None
            subjects.set_age(session, principal, subject, birth_date=born)
            applied.append(field)
    audit.record(
        session,
        principal,
        "subject.rectified",
        subject_id=subject.id,
        details={"rights_request_id": request.id, "fields": applied},
    )
    task.result = {
        **(task.result or {}),
        "applied": applied,
        "elsewhere": sorted(set(changes) - set(applied)),
    }


def recipient_secret(recipient_id: str) -> str:
    return f"recipient.{recipient_id}.contact"


def run_notify_recipients(
    session: PrivasiSession, request: RightsRequest, task: RequestTask
) -> None:
    """Tell every recipient declared in the policy (UU PDP Pasal 30 read with 36) of the
    correction: by e-mail or signed webhook when its address is stored as the secret
    ``recipient.<id>.contact``, else as a checklist task for staff."""
    changes: dict[str, str] = rights.details_of(session, request).get("changes", {})
    policy = policies.current_policy(session)
    notified, manual = [], []
    for recipient in policy.recipients:
        if recipient.role.value == "authority":
            continue
        name = recipient_secret(recipient.id)
        if has_secret(session, name):
            contact = get_secret(session, name).strip()
            channel = "email" if "@" in contact else "webhook"
            notify.enqueue(
                session,
                channel=channel,
                template="rights_rectification_recipient",
                lang="id",
                params={
                    "number": rights.display_number(request),
                    "recipient": recipient.display("id"),
                    "changes": changes,
                },
                subject_id=request.subject_id,
                to=contact,
                dedupe_key=f"rights:{request.id}:recipient:{recipient.id}",
            )
            notified.append(recipient.id)
        else:
            manual.append(recipient.id)
            exists = session.scalar(
                select(RequestTask.id).where(
                    RequestTask.request_id == request.id,
                    RequestTask.system_id == f"recipient:{recipient.id}",
                )
            )
            if exists is None:
                session.add(
                    RequestTask(
                        request_id=request.id,
                        system_id=f"recipient:{recipient.id}",
                        kind="manual",
                        action="notify_recipient",
                        due_at=task.due_at,
                        result={"name": recipient.display("en"), "fields": sorted(changes)},
                    )
                )
    session.flush()
    task.result = {**(task.result or {}), "notified": notified, "manual": manual}


# --- restriction, objection, withdrawal ---------------------------------------------------------


def run_restrict(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    subjects.set_restricted(session, _principal(request), _subject(session, request), True)
    task.result = {**(task.result or {}), "restricted": True}


def _purposes(session: PrivasiSession, request: RightsRequest) -> list[str]:
    given = rights.details_of(session, request).get("purposes")
    return sorted(set(given)) if given else []


def run_object(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    subject = _subject(session, request)
    purposes = _purposes(session, request)
    if request.type == "automated_decision_objection" and not purposes:
        policy = policies.current_policy(session)
        purposes = sorted(p.id for p in policy.purposes if p.automated_decisions) or ["*"]
    for purpose in purposes or ["*"]:
        subjects.set_objection(session, _principal(request), subject, purpose, True)
    task.result = {**(task.result or {}), "objected": purposes or ["*"]}


def run_withdraw(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    subject = _subject(session, request)
    wanted = set(_purposes(session, request))
    withdrawn = []
    for state in consent.current_states(session, subject.id):
        if state.status == consent.GRANTED and (not wanted or state.purpose in wanted):
            consent.withdraw(session, _principal(request), subject, state.purpose, _proof(request))
            withdrawn.append(state.purpose)
    task.result = {**(task.result or {}), "withdrawn": sorted(withdrawn)}
