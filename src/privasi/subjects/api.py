"""HTTP routes of data subjects. Thin: rules live in ``privasi.subjects.service``."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from privasi.errors import NotFound
from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.subjects import schemas
from privasi.subjects import service as subjects

router = APIRouter(prefix="/api/v1/subjects", tags=["subjects"])


def _detail(ctx: Ctx, subject: subjects.Subject) -> schemas.SubjectDetail:
    from privasi.consent.purposes import policy_in_effect

    try:
        policy, _ = policy_in_effect(ctx.session)
    except NotFound:
        minor = None
    else:
        minor = subjects.is_minor(ctx.session, subject, policy)
    return schemas.SubjectDetail(
        **schemas.SubjectOut.model_validate(subject).model_dump(),
        identifiers=subjects.read_identifiers(ctx.session, ctx.principal, subject),
        minor=minor,
        guardians=[
            schemas.GuardianOut.model_validate(g)
            for g in subjects.guardians_of(ctx.session, subject.id)
        ],
    )


@router.post("", response_model=schemas.SubjectCreated, status_code=201)
def create(body: schemas.SubjectIn, ctx: Ctx = ctx_for("subjects.manage")) -> JSONResponse:
    """Find the subject these identifiers name, or create one (201). An existing subject is
    answered with 200 and gets any new identifiers; identifiers of two subjects give 409."""

    def produce() -> tuple[int, object]:
        before = subjects.find_existing(ctx.session, schemas.plain(body.identifiers))
        subject = subjects.find_or_create(
            ctx.session,
            ctx.principal,
            schemas.plain(body.identifiers),
            kind=body.kind,
            birth_date=body.birth_date,
            declared_age=body.declared_age,
        )
        created = before is None
        out = schemas.SubjectCreated(
            **schemas.SubjectOut.model_validate(subject).model_dump(), created=created
        )
        return (201 if created else 200), out

    return run_idempotent(ctx, body, produce)


@router.get("", response_model=schemas.SubjectPage)
def list_subjects(
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
    ctx: Ctx = ctx_for("subjects.read"),
) -> object:
    items, next_cursor = subjects.list_subjects(ctx.session, limit, cursor)
    return schemas.SubjectPage(
        items=[schemas.SubjectOut.model_validate(i) for i in items], next_cursor=next_cursor
    )


@router.post("/lookup", response_model=schemas.SubjectPage)
def lookup(body: schemas.LookupIn, ctx: Ctx = ctx_for("subjects.read")) -> object:
    """The subject with this identifier (no items if nobody has it). The identifier travels in
    the body so it never reaches access logs."""
    subject = subjects.find_by_identifier(ctx.session, body.kind, body.value)
    items = [schemas.SubjectOut.model_validate(subject)] if subject is not None else []
    return schemas.SubjectPage(items=items, next_cursor=None)


@router.get("/{subject_id}", response_model=schemas.SubjectDetail)
def get_subject(subject_id: str, ctx: Ctx = ctx_for("subjects.read")) -> object:
    return _detail(ctx, subjects.get_subject(ctx.session, subject_id))


@router.post("/{subject_id}/identifiers", response_model=schemas.SubjectDetail)
def add_identifiers(
    subject_id: str, body: schemas.IdentifiersIn, ctx: Ctx = ctx_for("subjects.manage")
) -> object:
    subject = subjects.get_subject(ctx.session, subject_id)
    subjects.add_identifiers(ctx.session, ctx.principal, subject, schemas.plain(body.identifiers))
    return _detail(ctx, subject)


@router.put("/{subject_id}/age", response_model=schemas.SubjectDetail)
def set_age(subject_id: str, body: schemas.AgeIn, ctx: Ctx = ctx_for("subjects.manage")) -> object:
    subject = subjects.get_subject(ctx.session, subject_id)
    subjects.set_age(
        ctx.session,
        ctx.principal,
        subject,
        birth_date=body.birth_date,
        declared_age=body.declared_age,
    )
    return _detail(ctx, subject)


@router.post("/{subject_id}/guardians", response_model=schemas.GuardianOut, status_code=201)
def link_guardian(
    subject_id: str, body: schemas.GuardianIn, ctx: Ctx = ctx_for("subjects.manage")
) -> object:
    minor = subjects.get_subject(ctx.session, subject_id)
    guardian = subjects.get_subject(ctx.session, body.guardian_id)
    return subjects.link_guardian(ctx.session, ctx.principal, minor, guardian, body.relationship)


@router.delete("/{subject_id}/guardians/{guardian_id}", status_code=204)
def unlink_guardian(
    subject_id: str, guardian_id: str, ctx: Ctx = ctx_for("subjects.manage")
) -> None:
    minor = subjects.get_subject(ctx.session, subject_id)
    subjects.unlink_guardian(ctx.session, ctx.principal, minor, guardian_id)


@router.put("/{subject_id}/restriction", response_model=schemas.SubjectOut)
def set_restriction(
    subject_id: str, body: schemas.RestrictionIn, ctx: Ctx = ctx_for("subjects.manage")
) -> object:
    """Restrict processing (only storage, legal claims and legal obligations go on) or lift it."""
    subject = subjects.get_subject(ctx.session, subject_id)
    return subjects.set_restricted(ctx.session, ctx.principal, subject, body.restricted)


@router.post("/{subject_id}/objections", response_model=schemas.SubjectOut)
def object_to(
    subject_id: str, body: schemas.ObjectionIn, ctx: Ctx = ctx_for("subjects.manage")
) -> object:
    subject = subjects.get_subject(ctx.session, subject_id)
    return subjects.set_objection(ctx.session, ctx.principal, subject, body.purpose, True)


@router.delete("/{subject_id}/objections/{purpose}", response_model=schemas.SubjectOut)
def withdraw_objection(
    subject_id: str, purpose: str, ctx: Ctx = ctx_for("subjects.manage")
) -> object:
    subject = subjects.get_subject(ctx.session, subject_id)
    return subjects.set_objection(ctx.session, ctx.principal, subject, purpose, False)


@router.post("/{subject_id}/merge", response_model=schemas.SubjectDetail)
def merge(subject_id: str, body: schemas.MergeIn, ctx: Ctx = ctx_for("subjects.manage")) -> object:
    """Fold another record of the same person into this one: identifiers, age, guardians,
    restriction, objections and the newest consent choices move here; the other record stays,
    marked merged, with its own consent evidence."""
    from privasi.subjects.merge import merge as merge_subjects

    keep = subjects.get_subject(ctx.session, subject_id)
    other = subjects.get_subject(ctx.session, body.other_id)
    return _detail(ctx, merge_subjects(ctx.session, ctx.principal, keep, other))
