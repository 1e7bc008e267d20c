"""HTTP routes of policy versions. Thin: rules live in ``privasi.policy.service``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.policy import schemas
from privasi.policy import service as policies
from privasi.policy.diff import PolicyDiff
from privasi.policy.render import render_notice
from privasi.policy.ropa import ropa_csv, ropa_markdown

router = APIRouter(prefix="/api/v1/policies", tags=["policy"])


def _diff_out(diff: PolicyDiff) -> schemas.DiffOut:
    return schemas.DiffOut(
        material=diff.has_material,
        changes=[schemas.ChangeOut(**asdict(c)) for c in diff.changes],
    )


@router.post("", response_model=schemas.PolicyVersionOut, status_code=201)
def upload(body: schemas.PolicyUpload, ctx: Ctx = ctx_for("policy.manage")) -> JSONResponse:
    """Validate a policy file and store it as a draft. Problems name the line and field."""

    def produce() -> tuple[int, object]:
        version = policies.create_draft(ctx.session, ctx.principal, body.source, body.source_name)
        return 201, schemas.PolicyVersionOut.model_validate(version)

    return run_idempotent(ctx, body, produce)


@router.get("", response_model=list[schemas.PolicyVersionOut])
def list_versions(ctx: Ctx = ctx_for("policy.read")) -> object:
    return policies.list_versions(ctx.session)


@router.get("/current", response_model=schemas.PolicyVersionDetail)
def current(ctx: Ctx = ctx_for("policy.read")) -> object:
    return policies.require_current(ctx.session)


@router.get("/{version_id}", response_model=schemas.PolicyVersionDetail)
def get_version(version_id: str, ctx: Ctx = ctx_for("policy.read")) -> object:
    version = policies.get_version(ctx.session, version_id)
    policies.to_policy(ctx.session, version)
    return version


@router.post("/{version_id}/publish", response_model=schemas.PublishedOut)
def publish(
    version_id: str, body: schemas.PublishRequest, ctx: Ctx = ctx_for("policy.manage")
) -> object:
    version = policies.get_version(ctx.session, version_id)
    result = policies.publish(ctx.session, ctx.principal, version, body.effective_date)
    return schemas.PublishedOut(
        version=schemas.PolicyVersionOut.model_validate(result.version),
        diff=_diff_out(result.diff) if result.diff is not None else None,
    )


@router.get("/{version_id}/diff", response_model=schemas.DiffOut)
def diff(
    version_id: str,
    against: str = Query(description="version id or number to compare with (the older one)"),
    ctx: Ctx = ctx_for("policy.read"),
) -> object:
    new = policies.get_version(ctx.session, version_id)
    old = policies.get_version(ctx.session, against)
    return _diff_out(policies.diff_versions(ctx.session, old, new))


@router.get("/{version_id}/notice")
def notice(
    version_id: str,
    lang: Literal["id", "en"] = "id",
    format: Literal["html", "md"] = "html",
    ctx: Ctx = ctx_for("policy.read"),
) -> Response:
    """The notice a version would publish, for review before publishing."""
    policy = policies.to_policy(ctx.session, policies.get_version(ctx.session, version_id))
    text = render_notice(policy, lang, format)
    media = "text/html" if format == "html" else "text/markdown"
    return Response(text, media_type=f"{media}; charset=utf-8")


@router.get("/{version_id}/ropa")
def ropa(
    version_id: str,
    format: Literal["csv", "md"] = "csv",
    lang: Literal["id", "en"] = "en",
    ctx: Ctx = ctx_for("policy.read"),
) -> PlainTextResponse:
    """Records of processing (UU PDP Pasal 31) of a version."""
    policy = policies.to_policy(ctx.session, policies.get_version(ctx.session, version_id))
    if format == "csv":
        return PlainTextResponse(ropa_csv(policy, lang), media_type="text/csv; charset=utf-8")
    return PlainTextResponse(ropa_markdown(policy, lang), media_type="text/markdown; charset=utf-8")
