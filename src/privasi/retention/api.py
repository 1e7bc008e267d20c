"""HTTP routes of retention: the plan, runs and their evidence, clocks, legal holds. Thin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from privasi.db import utcnow
from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.retention import holds, schemas, service
from privasi.retention.jobs import queue_sweep

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


def _plan_out(plan: service.RulePlan) -> schemas.RulePlanOut:
    return schemas.RulePlanOut(
        rule=plan.rule_id,
        action=plan.action,
        period=plan.period,
        start=plan.start,
        cutoff=plan.cutoff,
        due=plan.due,
        items=[
            schemas.PlanItemOut(
                system_id=i.system_id,
                table=i.table,
                action=i.action,
                due=i.due,
                held=i.held,
                problem=i.problem,
            )
            for i in plan.items
        ],
        skipped=[
            schemas.SkipOut(system_id=s.system_id, table=s.table, reason=s.reason, detail=s.detail)
            for s in plan.skipped
        ],
    )


@router.get("/plan", response_model=list[schemas.RulePlanOut])
def plan(
    at: datetime | None = Query(None, description="the moment to plan for; default now"),
    ctx: Ctx = ctx_for("retention.read"),
) -> list[schemas.RulePlanOut]:
    """What each rule would delete or anonymise now (or at ``at``), per system and table."""
    return [_plan_out(p) for p in service.plan(ctx.session, at)]


@router.post("/runs", response_model=schemas.RunQueued, status_code=202)
def start_run(body: schemas.RunIn, ctx: Ctx = ctx_for("retention.manage")) -> JSONResponse:
    """Queue a sweep of one rule (or every rule); the worker runs it and records the evidence."""

    def produce() -> tuple[int, object]:
        job = queue_sweep(ctx.session, ctx.org_id, body.rule, ctx.principal.actor)
        return 202, schemas.RunQueued(job_id=job.id, rule=body.rule)

    return run_idempotent(ctx, body, produce)


@router.get("/runs", response_model=list[schemas.RunOut])
def list_runs(
    start: datetime | None = Query(None, alias="from"),
    end: datetime | None = Query(None, alias="to"),
    limit: int = Query(100, ge=1, le=500),
    ctx: Ctx = ctx_for("retention.read"),
) -> list[dict[str, Any]]:
    return [
        service.evidence(r) for r in service.runs(ctx.session, start=start, end=end, limit=limit)
    ]


@router.get("/runs/{run_id}", response_model=schemas.RunOut)
def get_run(run_id: str, ctx: Ctx = ctx_for("retention.read")) -> dict[str, Any]:
    return service.evidence(service.get_run(ctx.session, run_id))


@router.get("/report", response_model=schemas.Report)
def report(
    start: datetime = Query(alias="from"),
    end: datetime = Query(alias="to"),
    ctx: Ctx = ctx_for("retention.read"),
) -> dict[str, Any]:
    """Runs started in the period with their evidence and audit events, and the holds in force."""
    return service.report(ctx.session, start, end)


@router.post("/subjects/{subject_id}/clocks", response_model=schemas.ClockOut, status_code=201)
def record_clock(
    subject_id: str, body: schemas.ClockIn, ctx: Ctx = ctx_for("subjects.manage")
) -> JSONResponse:
    """Record an event that starts a retention period for a subject (account closed ...)."""

    def produce() -> tuple[int, object]:
        clock = service.record_clock(
            ctx.session, ctx.principal, subject_id, body.event, body.occurred_at or utcnow()
        )
        return 201, schemas.ClockOut.model_validate(clock)

    return run_idempotent(ctx, body, produce)


@router.get("/subjects/{subject_id}/clocks", response_model=list[schemas.ClockOut])
def list_clocks(subject_id: str, ctx: Ctx = ctx_for("subjects.read")) -> list[schemas.ClockOut]:
    """The retention clocks recorded for a subject."""
    return [schemas.ClockOut.model_validate(c) for c in service.clocks_of(ctx.session, subject_id)]


@router.get("/holds", response_model=list[schemas.HoldOut])
def list_holds(
    include_released: bool = Query(False, alias="all"), ctx: Ctx = ctx_for("retention.read")
) -> list[schemas.HoldOut]:
    found = holds.listing(ctx.session, include_released=include_released)
    return [schemas.HoldOut.model_validate(h) for h in found]


@router.post("/holds", response_model=schemas.HoldOut, status_code=201)
def place_hold(body: schemas.HoldIn, ctx: Ctx = ctx_for("retention.manage")) -> JSONResponse:
    """Keep a subject, a category or a system past retention and erasure until released."""

    def produce() -> tuple[int, object]:
        hold = holds.place(
            ctx.session,
            ctx.principal,
            scope=body.scope,
            target=body.target,
            reason=body.reason,
            owner=body.owner,
        )
        return 201, schemas.HoldOut.model_validate(hold)

    return run_idempotent(ctx, body, produce)


@router.get("/holds/{hold_id}", response_model=schemas.HoldOut)
def get_hold(hold_id: str, ctx: Ctx = ctx_for("retention.read")) -> schemas.HoldOut:
    return schemas.HoldOut.model_validate(holds.get(ctx.session, hold_id))


@router.post("/holds/{hold_id}/release", response_model=schemas.HoldOut)
def release_hold(
    hold_id: str, body: schemas.ReleaseIn, ctx: Ctx = ctx_for("retention.manage")
) -> schemas.HoldOut:
    hold = holds.release(ctx.session, ctx.principal, holds.get(ctx.session, hold_id), body.note)
    return schemas.HoldOut.model_validate(hold)
