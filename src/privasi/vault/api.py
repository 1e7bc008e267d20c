"""Secrets routes: list names, set and delete. A stored value is never returned by any route."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from privasi.http.deps import Ctx, ctx_for
from privasi.vault import schemas
from privasi.vault import service as vault_service

router = APIRouter(prefix="/api/v1", tags=["secrets"])
NAME = Path(min_length=1, max_length=128, description="referred to by name from the policy file")


@router.get("/secrets", response_model=schemas.SecretListOut)
def list_secrets(ctx: Ctx = ctx_for("secrets.manage")) -> object:
    items = vault_service.list_secrets(ctx.session)
    return schemas.SecretListOut(items=[schemas.SecretOut(**vars(i)) for i in items])


@router.put("/secrets/{name}", status_code=204, response_class=Response)
def set_secret(
    body: schemas.SecretIn, name: str = NAME, ctx: Ctx = ctx_for("secrets.manage")
) -> Response:
    vault_service.set_secret(ctx.session, ctx.principal, name, body.value, vault=ctx.state("vault"))
    return Response(status_code=204)


@router.delete("/secrets/{name}", status_code=204, response_class=Response)
def delete_secret(name: str = NAME, ctx: Ctx = ctx_for("secrets.manage")) -> Response:
    vault_service.delete_secret(ctx.session, ctx.principal, name, vault=ctx.state("vault"))
    return Response(status_code=204)
