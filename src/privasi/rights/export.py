"""The access and portability export: one ZIP a person can read and a machine can import.

- ``data.json``: one document in one schema whatever system the data came from. Every piece of
  personal data is a *record* ``{system, category, source, field, value, recorded_at}``, so
  privasi's own store and each business system (what its task returned, ``attach_records``)
  read the same way; beside them the subject, identifiers, profile, consents with their proof, the
  person's requests and the processing record (UU PDP Pasal 32 "rekam jejak").
- ``categories/<category>.csv``: the records of one data category each, plus ``consents.csv``
  and ``processing_record.csv``.
- ``summary.html``: the same in plain words, in the person's language, times in the
  organisation's time zone, with who accessed or changed the data, when and for which purpose.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from privasi import csvsafe
from privasi.audit import service as audit
from privasi.consent import service as consent
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.policy.schema import Policy
from privasi.rights.models import RequestTask, RightsRequest
from privasi.rights.service import display_number
from privasi.subjects import service as subjects
from privasi.vault.service import VaultError, vault_for
from privasi.web.i18n import t
from privasi.web.render import environment

FORMAT = "privasi.subject-export/1"
PRIVASI_SYSTEM = "privasi"
RECORD_FIELDS = ("system", "category", "source", "field", "value", "recorded_at")
IDENTIFIERS_CATEGORY = "identifiers"
PROFILE_CATEGORY = "profile"
# ZIP entries get a fixed time so the same data gives the same bytes (easier to verify a copy).
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def file_stem(request: Any) -> str:
    return f"data-{request_number(request).lower()}"


def request_number(request: Any) -> str:
    return display_number(request)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _policy(session: PrivasiSession) -> Policy | None:
    try:
        return policies.current_policy(session)
    except NotFound:
        return None


def _category_names(policy: Policy | None, lang: str) -> dict[str, str]:
    names = {
        IDENTIFIERS_CATEGORY: t("rights_export.category.identifiers", lang),
        PROFILE_CATEGORY: t("rights_export.category.profile", lang),
    }
    for category in policy.categories if policy else []:
        names[category.id] = category.name.get(lang)
    return names


def _purpose_names(policy: Policy | None, lang: str) -> dict[str, str]:
    names = {"rights_request": t("rights_export.purpose.rights_request", lang)}
    for purpose in policy.purposes if policy else []:
        names[purpose.id] = purpose.name.get(lang)
    return names


def _system_names(policy: Policy | None) -> dict[str, str]:
    names = {PRIVASI_SYSTEM: "privasi"}
    for system in policy.systems if policy else []:
        names[system.id] = system.name
    return names


# --- what privasi itself holds -------------------------------------------------------------------


def _age(session: PrivasiSession, subject: subjects.Subject) -> dict[str, Any] | None:
    if subject.age_enc is None:
        return None
    try:
        facts = vault_for(session).decrypt_field(
            subject.org_id, subject.id, subject.age_enc, "subject_age"
        )
    except VaultError:
        return None
    loaded = json.loads(facts) if isinstance(facts, str | bytes) else facts
    return dict(loaded) if isinstance(loaded, dict) else None


def _own_records(
    subject: subjects.Subject, identifiers: dict[str, list[str]], profile: dict[str, Any]
) -> list[dict[str, Any]]:
    records = [
        _record(PRIVASI_SYSTEM, IDENTIFIERS_CATEGORY, "subject_identifiers", kind, value, None)
        for kind, values in identifiers.items()
        for value in values
    ]
    for name, value in profile.items():
        if value not in (None, [], {}):
            records.append(_record(PRIVASI_SYSTEM, PROFILE_CATEGORY, "subjects", name, value, None))
    return records


def _record(
    system: str, category: str, source: str, field: str, value: Any, recorded_at: str | None
) -> dict[str, Any]:
    return {
        "system": system,
        "category": category,
        "source": source,
        "field": field,
        "value": value,
        "recorded_at": recorded_at,
    }


def _consents(session: PrivasiSession, subject_id: str) -> dict[str, Any]:
    events = consent.history(session, subject_id)
    texts = consent.texts(session, (e.text_sha256 for e in events))
    return {
        "current": [
            {
                "purpose": s.purpose,
                "status": s.status,
                "since": _iso(s.changed_at),
                "policy_version": s.policy_version,
            }
            for s in consent.current_states(session, subject_id)
        ],
        "events": [
            {
                "id": e.id,
                "purpose": e.purpose,
                "action": e.action,
                "occurred_at": _iso(e.occurred_at),
                "proof": {
                    "policy_version": e.policy_version,
                    "text": texts[e.text_sha256].text if e.text_sha256 in texts else None,
                    "text_sha256": e.text_sha256,
                    "language": e.language,
                    "channel": e.channel,
                    "method": e.method,
                    "source": e.source,
                    "guardian_id": e.guardian_id,
                },
            }
            for e in events
        ],
    }


# --- what the business's systems returned, and the person's requests ----------------------------


def _tasks(session: PrivasiSession, request: Any) -> list[Any]:
    return list(
        session.scalars(
            select(RequestTask)
            .where(RequestTask.request_id == request.id)
            .order_by(RequestTask.system_id, RequestTask.id)
        )
    )


def _records_aad(task: Any) -> str:
    return f"rights_task_records:{task.id}"


def attach_records(
    session: PrivasiSession, request: Any, task: Any, records: list[dict[str, Any]]
) -> int:
    """Keep what a system returned for an access request, for the export.

    A connector (or staff, for a manual system) passes rows ``{category, field, value}`` and
    optionally ``source`` and ``recorded_at``. They are personal data, so they are sealed with
    the subject's key in the task's result and vanish with an erasure like everything else.
    """
    if request.subject_id is None:
        raise ValidationFailed("the request is not matched to a data subject")
    clean = []
    for row in records:
        if not isinstance(row, dict) or not row.get("field") or not row.get("category"):
            raise ValidationFailed("each record needs a category and a field", field="records")
        clean.append(
            {
                "category": str(row["category"])[:64],
                "field": str(row["field"])[:200],
                "value": row.get("value"),
                "source": str(row.get("source") or task.system_id)[:200],
                "recorded_at": row.get("recorded_at"),
            }
        )
    sealed = vault_for(session).encrypt_field(
        request.org_id, request.subject_id, clean, _records_aad(task)
    )
    task.result = {**(task.result or {}), "records_enc": sealed, "records": len(clean)}
    session.flush()
    return len(clean)


def _system_records(session: PrivasiSession, request: Any, task: Any) -> list[dict[str, Any]]:
    result = task.result if isinstance(task.result, dict) else {}
    sealed = result.get("records_enc")
    if not isinstance(sealed, str):
        return []
    try:
        rows = vault_for(session).decrypt_field(
            request.org_id, request.subject_id, sealed, _records_aad(task)
        )
    except VaultError:
        return []
    return [
        _record(
            task.system_id,
            str(row.get("category")),
            str(row.get("source") or task.system_id),
            str(row.get("field")),
            row.get("value"),
            row.get("recorded_at"),
        )
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict)
    ]


def _requests(session: PrivasiSession, subject_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(RightsRequest)
        .where(RightsRequest.subject_id == subject_id)
        .order_by(RightsRequest.received_at)
    )
    return [
        {
            "number": request_number(r),
            "type": r.type,
            "status": r.status,
            "channel": r.channel,
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.due_at),
            "completed_at": _iso(r.completed_at),
            "denial_ground": r.denial_ground,
        }
        for r in rows
    ]


def export_data(session: PrivasiSession, request: Any, lang: str = "id") -> dict[str, Any]:
    """The ``data.json`` document of the request's subject."""
    if request.subject_id is None:
        raise NotFound("the request is not matched to a data subject")
    subject = subjects.get_subject(session, request.subject_id)
    org = orgs.get_org(session, subject.org_id)
    policy = _policy(session)
    identifiers = subjects.identifiers(session, subject)
    profile = {
        "kind": subject.kind,
        "state": subject.state,
        "restricted": subject.restricted,
        "objections": list(subject.objections or []),
        "age": _age(session, subject),
        "created_at": _iso(subject.created_at),
    }
    tasks = _tasks(session, request)
    records = _own_records(subject, identifiers, profile)
    systems = [
        {
            "id": PRIVASI_SYSTEM,
            "name": "privasi",
            "kind": "privasi",
            "status": "done",
            "records": len(records),
        }
    ]
    names = _system_names(policy)
    for task in tasks:
        if task.system_id == PRIVASI_SYSTEM:
            continue
        found = _system_records(session, request, task)
        records.extend(found)
        systems.append(
            {
                "id": task.system_id,
                "name": names.get(task.system_id, task.system_id),
                "kind": task.kind,
                "status": task.status,
                "records": len(found),
            }
        )
    categories = _category_names(policy, lang)
    for record in records:
        categories.setdefault(record["category"], record["category"])
    return {
        "format": FORMAT,
        "generated_at": utcnow().isoformat(),
        "language": lang,
        "organisation": {"name": org.name, "time_zone": org.time_zone},
        "request": {
            "number": request_number(request),
            "type": request.type,
            "received_at": _iso(request.received_at),
        },
        "subject": {"id": subject.id, "kind": subject.kind, "state": subject.state},
        "identifiers": identifiers,
        "profile": profile,
        "categories": {
            c: categories[c] for c in sorted({r["category"] for r in records} | {*categories})
        },
        "purposes": _purpose_names(policy, lang),
        "systems": systems,
        "records": records,
        "consents": _consents(session, subject.id),
        "requests": _requests(session, subject.id),
        "processing_record": audit.subject_trail(session, subject.id, lang),
    }


# --- CSV and HTML --------------------------------------------------------------------------------


def _csv(header: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False)
                if isinstance(v, dict | list)
                else csvsafe.cell(v)
                for k, v in row.items()
            }
        )
    # A byte-order mark so spreadsheet programs open Indonesian text as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _safe_name(category: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in category)
    return cleaned[:64] or "other"


def _local(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _summary(data: dict[str, Any], lang: str) -> str:
    from privasi.rights.center import FORM_TYPES, STATUSES, labels

    zone = ZoneInfo(data["organisation"]["time_zone"])
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in data["records"]:
        grouped.setdefault(record["category"], []).append(record)
    names = {s["id"]: s["name"] for s in data["systems"]}
    context = {
        "lang": lang,
        "data": data,
        "number": data["request"]["number"],
        "generated": _local(data["generated_at"], zone),
        "zone": data["organisation"]["time_zone"],
        "grouped": [(data["categories"].get(c, c), rows) for c, rows in sorted(grouped.items())],
        "system_names": names,
        "purposes": data["purposes"],
        "type_names": labels("types", FORM_TYPES, lang),
        "status_names": labels("statuses", STATUSES, lang),
        "action_names": {
            a: t(f"rights_export.consents.{a}", lang) for a in ("granted", "withdrawn", "expired")
        },
        "trail": [{**e, "local": _local(e["time"], zone)} for e in data["processing_record"]],
        "consent_events": [
            {**e, "local": _local(e["occurred_at"], zone)} for e in data["consents"]["events"]
        ],
        "requests": [{**r, "local": _local(r["received_at"], zone)} for r in data["requests"]],
    }
    return environment().get_template("rights/export_summary.html").render(context)


def build_export(session: PrivasiSession, request: Any, lang: str) -> bytes:
    """The ZIP of ``data.json``, one CSV per category and ``summary.html`` in ``lang``."""
    lang = lang if lang in ("id", "en") else "id"
    data = export_data(session, request, lang)
    files: dict[str, bytes] = {
        "data.json": json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"),
    }
    by_category: dict[str, list[dict[str, Any]]] = {}
    for record in data["records"]:
        by_category.setdefault(record["category"], []).append(record)
    for category, rows in sorted(by_category.items()):
        files[f"categories/{_safe_name(category)}.csv"] = _csv(RECORD_FIELDS, rows)
    consent_rows = [
        {**e, **{f"proof_{k}": v for k, v in e["proof"].items()}}
        for e in data["consents"]["events"]
    ]
    proof_fields = ("policy_version", "text", "language", "channel", "method", "source")
    consent_header = ("purpose", "action", "occurred_at", *(f"proof_{k}" for k in proof_fields))
    files["consents.csv"] = _csv(consent_header, consent_rows)
    files["processing_record.csv"] = _csv(
        ("time", "description", "purpose", "by", "action"), data["processing_record"]
    )
    files["summary.html"] = _summary(data, lang).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
