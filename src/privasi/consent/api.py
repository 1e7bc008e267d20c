"""HTTP routes of consent: record with proof, check, purposes, evidence. Thin: the rules live in
``privasi.consent.service``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from privasi.consent import evidence, schemas
from privasi.consent import service as consent
from privasi.consent.purposes import consent_purposes, policy_in_effect
from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.subjects import service as subjects
from privasi.subjects.schemas import plain

router = APIRouter(tags=["consent"])
PREFIX = "/api/v1/consent"


def _proof(body: schemas.ProofIn) -> consent.Proof:
    return consent.Proof(**body.model_dump())


def _event_out(ctx: Ctx, event: consent.ConsentEvent) -> schemas.EventOut:
    data = evidence.event_json(
        event,
        getattr(
            consent.texts(ctx.session, [event.text_sha256]).get(event.text_sha256), "text", None
        ),
    )
    out = schemas.EventOut(subject_id=event.subject_id, **data)
    if event.action == "withdrawn":
        policy, _ = policy_in_effect(ctx.session)
        texts = {
            lang: text
            for lang in ("id", "en")
            if (text := consent.withdrawal_consequences(policy, event.purpose, lang))
        }
        out.withdrawal_consequences = texts or None
    return out


@router.post(f"{PREFIX}/events", response_model=schemas.EventOut, status_code=201)
def record(body: schemas.EventIn, ctx: Ctx = ctx_for("consent.manage")) -> JSONResponse:
    """Record a grant or withdrawal with its proof. With identifiers, the subject is found or
    created. ``Idempotency-Key`` makes a retried request record nothing twice."""

    def produce() -> tuple[int, object]:
        if body.identifiers:
            subject = subjects.find_or_create(ctx.session, ctx.principal, plain(body.identifiers))
        else:
            subject = subjects.get_subject(ctx.session, body.subject_id or "")
        write = consent.grant if body.action == "granted" else consent.withdraw
        event = write(ctx.session, ctx.principal, subject, body.purpose, _proof(body.proof))
        return 201, _event_out(ctx, event)

    return run_idempotent(ctx, body, produce)


@router.post(f"{PREFIX}/events/batch", response_model=schemas.BatchOut, status_code=201)
def record_batch(body: schemas.BatchIn, ctx: Ctx = ctx_for("consent.manage")) -> JSONResponse:
    """The same event and proof for up to 10,000 subjects (an import, a list-wide opt-out).
    Ids that name no subject are skipped and listed, so one stale id does not stop an import."""

    def produce() -> tuple[int, object]:
        known = consent.known_subjects(ctx.session, body.subject_ids)
        wanted = [sid for sid in body.subject_ids if sid in known]
        ids = consent.record_many(
            ctx.session, ctx.principal, wanted, body.purpose, body.action, _proof(body.proof)
        )
        return 201, schemas.BatchOut(
            purpose=body.purpose,
            action=body.action,
            count=len(ids),
            event_ids=ids,
            unknown_subject_ids=sorted(set(body.subject_ids) - known),
        )

    return run_idempotent(ctx, body, produce)


@router.get(f"{PREFIX}/events", response_model=schemas.LedgerPage)
def ledger(
    purpose: str | None = Query(None, max_length=100),
    action: Literal["granted", "withdrawn", "expired"] | None = None,
    since: datetime | None = Query(None, description="events at or after this time"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=100, description="next_cursor of the last page"),
    ctx: Ctx = ctx_for("consent.read"),
) -> object:
    """The ledger, newest first, with each event's proof."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    events, next_cursor = evidence.ledger_page(
        ctx.session, purpose=purpose, action=action, since=since, limit=limit, cursor=cursor
    )
    texts = consent.texts(ctx.session, (e.text_sha256 for e in events))
    items = [
        schemas.EventOut(
            subject_id=e.subject_id,
            **evidence.event_json(e, texts[e.text_sha256].text if e.text_sha256 in texts else None),
        )
        for e in events
    ]
    return schemas.LedgerPage(items=items, next_cursor=next_cursor)


@router.get(f"{PREFIX}/summary", response_model=list[schemas.PurposeSummary])
def summary(ctx: Ctx = ctx_for("consent.read")) -> object:
    """Per purpose: consents standing, withdrawn, expired, and waiting for renewal."""
    return evidence.summary(ctx.session)


@router.get(f"{PREFIX}/events/{{event_id}}", response_model=schemas.EventOut)
def get_event(event_id: str, ctx: Ctx = ctx_for("consent.read")) -> object:
    return _event_out(ctx, consent.get_event(ctx.session, event_id))


@router.get(f"{PREFIX}/check", response_model=schemas.DecisionOut)
def check_one(
    subject_id: str = Query(max_length=36),
    purpose: str = Query(max_length=100),
    ctx: Ctx = ctx_for("consent.read"),
) -> object:
    """May this subject's data be used for this purpose now, and why. Ids only: identifiers
    never go into URLs (use POST with identifiers in the body)."""
    [decision] = consent.check(ctx.session, [subject_id], purpose)
    return schemas.DecisionOut(**decision.__dict__)


@router.post(f"{PREFIX}/check", response_model=schemas.CheckOut)
def check_many(body: schemas.CheckIn, ctx: Ctx = ctx_for("consent.read")) -> object:
    """Up to 10,000 subjects, by id or identifier, in one call."""
    resolved = subjects.resolve(ctx.session, [(i.kind, i.value) for i in body.identifiers])
    known = body.subject_ids + [sid for sid in resolved if sid is not None]
    decisions = iter(consent.check(ctx.session, known, body.purpose))
    out = [schemas.DecisionOut(**next(decisions).__dict__) for _ in body.subject_ids]
    for sid in resolved:
        if sid is None:
            out.append(
                schemas.DecisionOut(
                    subject_id=None, purpose=body.purpose, allowed=False, reason="unknown_subject"
                )
            )
        else:
            out.append(schemas.DecisionOut(**next(decisions).__dict__))
    return schemas.CheckOut(purpose=body.purpose, decisions=out)


@router.get(f"{PREFIX}/purposes", response_model=list[schemas.PurposeOut])
def purposes(lang: Literal["id", "en"] = "id", ctx: Ctx = ctx_for("consent.read")) -> object:
    """Purposes a person can consent to, with what withdrawing means, to show before a
    withdrawal is confirmed."""
    policy, _ = policy_in_effect(ctx.session)
    out = []
    for rule in consent_purposes(policy):
        if rule.kind == "cookie":
            cookie = policy.cookie(rule.id.split(":", 1)[1])
            description = cookie.description.get(lang) if cookie and cookie.description else None
            out.append(
                schemas.PurposeOut(
                    id=rule.id, kind="cookie", name=None, description=description,
                    withdrawal_consequences=None, keyword_opt_in=False,
                )
            )  # fmt: skip
            continue
        declared = policy.purpose(rule.id)
        out.append(
            schemas.PurposeOut(
                id=declared.id,
                kind=declared.kind.value,
                name=declared.name.get(lang),
                description=declared.description.get(lang),
                withdrawal_consequences=consent.withdrawal_consequences(policy, declared.id, lang),
                keyword_opt_in=declared.keyword_opt_in,
            )
        )
    return out


@router.get("/api/v1/subjects/{subject_id}/consents", response_model=schemas.Evidence)
def subject_consents(subject_id: str, ctx: Ctx = ctx_for("consent.read")) -> object:
    """The subject's full consent history with proof, and the state now (UU PDP Pasal 24)."""
    return evidence.export(ctx.session, subject_id)
