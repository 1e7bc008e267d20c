"""HTTP routes for the organisation, its staff, API keys and hosting grants. Thin: rules live in
``privasi.orgs.service``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from privasi.http.deps import Ctx, ctx_for
from privasi.http.idempotency import run_idempotent
from privasi.orgs import schemas
from privasi.orgs import service as orgs

router = APIRouter(prefix="/api/v1", tags=["organisation"])


@router.get("/org", response_model=schemas.OrgOut)
def get_org(ctx: Ctx = ctx_for("org.read")) -> object:
    return orgs.get_org(ctx.session, ctx.org_id)


@router.patch("/org", response_model=schemas.OrgOut)
def update_org(body: schemas.OrgUpdate, ctx: Ctx = ctx_for("org.manage")) -> object:
    org = orgs.get_org(ctx.session, ctx.org_id)
    return orgs.update_org(
        ctx.session, org, name=body.name, time_zone=body.time_zone, by=ctx.principal
    )


@router.get("/orgs/hosted", response_model=list[schemas.HostedOrgOut])
def list_hosted(ctx: Ctx = ctx_for("org.read")) -> object:
    """Organisations this processor may act in (pass one's slug in the Privasi-Organization header)."""
    return orgs.hosted_orgs(ctx.state("db"), ctx.principal.home_org_id)


@router.get("/staff", response_model=list[schemas.StaffOut])
def list_staff(ctx: Ctx = ctx_for("staff.read")) -> object:
    return orgs.list_staff(ctx.session)


@router.post("/staff", response_model=schemas.StaffCreated, status_code=201)
def create_staff(body: schemas.StaffCreate, ctx: Ctx = ctx_for("staff.manage")) -> JSONResponse:
    """Create a staff account. With Idempotency-Key, a retry answers without the one-time password."""

    def produce() -> tuple[int, object]:
        user, one_time = orgs.create_staff(
            ctx.session,
            ctx.settings,
            email=body.email,
            role=body.role,
            name=body.name,
            by=ctx.principal,
        )
        out = schemas.StaffOut.model_validate(user).model_dump()
        return 201, schemas.StaffCreated(**out, one_time_password=one_time or "")

    return run_idempotent(ctx, body, produce, shown_once=("one_time_password",))


@router.get("/staff/{user_id}", response_model=schemas.StaffOut)
def get_staff(user_id: str, ctx: Ctx = ctx_for("staff.read")) -> object:
    return orgs.get_staff(ctx.session, user_id)


@router.patch("/staff/{user_id}", response_model=schemas.StaffOut)
def update_staff(
    user_id: str, body: schemas.StaffUpdate, ctx: Ctx = ctx_for("staff.manage")
) -> object:
    user = orgs.get_staff(ctx.session, user_id)
    return orgs.update_staff(
        ctx.session, user, role=body.role, active=body.active, name=body.name, by=ctx.principal
    )


@router.post("/staff/{user_id}/reset-password", response_model=schemas.PasswordReset)
def reset_password(user_id: str, ctx: Ctx = ctx_for("staff.manage")) -> object:
    user = orgs.get_staff(ctx.session, user_id)
    return schemas.PasswordReset(
        one_time_password=orgs.reset_password(ctx.session, ctx.settings, user, by=ctx.principal)
    )


@router.get("/api-keys", response_model=list[schemas.ApiKeyOut])
def list_api_keys(ctx: Ctx = ctx_for("api_keys.read")) -> object:
    return orgs.list_api_keys(ctx.session)


@router.post("/api-keys", response_model=schemas.ApiKeyCreated, status_code=201)
def create_api_key(
    body: schemas.ApiKeyCreate, ctx: Ctx = ctx_for("api_keys.manage")
) -> JSONResponse:
    """Create a key; the token is shown once. With Idempotency-Key, a retry answers without it."""

    def produce() -> tuple[int, object]:
        key, token = orgs.create_api_key(
            ctx.session,
            name=body.name,
            scopes=body.scopes,
            created_by=ctx.principal.actor,
            limit=ctx.principal.permissions,
            by=ctx.principal,
        )
        out = schemas.ApiKeyOut.model_validate(key).model_dump()
        return 201, schemas.ApiKeyCreated(**out, token=token)

    return run_idempotent(ctx, body, produce, shown_once=("token",))


@router.get("/api-keys/{key_id}", response_model=schemas.ApiKeyOut)
def get_api_key(key_id: str, ctx: Ctx = ctx_for("api_keys.read")) -> object:
    return orgs.get_api_key(ctx.session, key_id)


@router.delete("/api-keys/{key_id}", response_model=schemas.ApiKeyOut)
def revoke_api_key(key_id: str, ctx: Ctx = ctx_for("api_keys.manage")) -> object:
    key = orgs.get_api_key(ctx.session, key_id)
    return orgs.revoke_api_key(ctx.session, key, by=ctx.principal)


@router.get("/hosting-grants", response_model=list[schemas.HostingGrantOut])
def list_grants(ctx: Ctx = ctx_for("hosting.read")) -> object:
    return orgs.list_hosting_grants(ctx.session)


@router.post("/hosting-grants", response_model=schemas.HostingGrantOut, status_code=201)
def create_grant(
    body: schemas.HostingGrantCreate, ctx: Ctx = ctx_for("hosting.manage")
) -> JSONResponse:
    def produce() -> tuple[int, object]:
        processor = orgs.get_org_by_slug(ctx.session, body.processor_slug)
        grant = orgs.create_hosting_grant(
            ctx.session,
            processor=processor,
            actions=body.actions,
            instructions=body.instructions,
            approved_subprocessors=[s.model_dump() for s in body.approved_subprocessors],
            created_by=ctx.principal.actor,
            by=ctx.principal,
        )
        return 201, schemas.HostingGrantOut.model_validate(grant)

    return run_idempotent(ctx, body, produce)


@router.get("/hosting-grants/{grant_id}", response_model=schemas.HostingGrantOut)
def get_grant(grant_id: str, ctx: Ctx = ctx_for("hosting.read")) -> object:
    return orgs.get_hosting_grant(ctx.session, grant_id)


@router.delete("/hosting-grants/{grant_id}", status_code=204)
def revoke_grant(grant_id: str, ctx: Ctx = ctx_for("hosting.manage")) -> Response:
    grant = orgs.get_hosting_grant(ctx.session, grant_id)
    orgs.revoke_hosting_grant(ctx.session, grant, by=ctx.principal)
    return Response(status_code=204)
