"""``privasi orgs``, ``privasi staff`` and ``privasi api-keys``: thin calls into the orgs service."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.db import PrivasiSession
from privasi.orgs import service as orgs
from privasi.orgs.permissions import ALL_PERMISSIONS, role_permissions
from privasi.orgs.service import Principal
from privasi.runtime import database, domain_errors, safe_settings

out = Console()
orgs_app = typer.Typer(help="Organisations (tenants) and hosting grants.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts of an organisation.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of an organisation.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]


@orgs_app.command("create")
def orgs_create(
    slug: str,
    name: str,
    time_zone: Annotated[str, typer.Option("--tz")] = "Asia/Jakarta",
    role: Annotated[str, typer.Option(help="controller or processor")] = "controller",
) -> None:
    """Create an organisation."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(system=True) as s:
        org = orgs.create_org(s, slug, name, time_zone=time_zone, role=role)
        out.print(f"created organisation [bold]{org.slug}[/] ({org.role}, {org.time_zone})")


@orgs_app.command("list")
def orgs_list() -> None:
    """List organisations."""
    settings = safe_settings()
    with database(settings) as db, db.session(system=True) as s:
        table = Table("slug", "name", "role", "time zone")
        for org in orgs.list_orgs(s):
            table.add_row(org.slug, org.name, org.role, org.time_zone)
        out.print(table)


@orgs_app.command("grant-hosting")
def orgs_grant_hosting(
    hosted: Annotated[str, typer.Argument(help="the controller organisation that grants access")],
    processor: Annotated[str, typer.Argument(help="the processor organisation")],
    action: Annotated[list[str], typer.Option("--action", help="a permission to grant; repeat")],
    instructions: Annotated[str, typer.Option(help="the controller's documented instructions")],
    subprocessor: Annotated[
        list[str] | None, typer.Option("--subprocessor", help="NAME[:COUNTRY], approved in writing")
    ] = None,
) -> None:
    """Let a processor's staff act in a hosted organisation (UU PDP Pasal 51)."""
    settings = safe_settings()
    subs = []
    for item in subprocessor or []:
        name, _, country = item.partition(":")
        subs.append({"name": name, "country": country or None})
    with database(settings) as db, domain_errors():
        with db.session(system=True) as s:
            hosted_org = orgs.get_org_by_slug(s, hosted)
            processor_org = orgs.get_org_by_slug(s, processor)
        with db.session(hosted_org.id) as s:
            grant = orgs.create_hosting_grant(
                s,
                processor=processor_org,
                actions=action,
                instructions=instructions,
                approved_subprocessors=subs,
                created_by="cli",
                by=_cli(s),
            )
            out.print(f"grant {grant.id}: {processor} may {', '.join(grant.actions)} in {hosted}")


def _cli(session: PrivasiSession) -> Principal:
    return orgs.system_principal(session.require_org(), "cli")


def _org_id(db: object, slug: str) -> str:
    from privasi.db import Database

    assert isinstance(db, Database)
    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, slug).id


@staff_app.command("create")
def staff_create(
    org: OrgArg,
    email: str,
    role: Annotated[str, typer.Option(help="owner, dpo, agent or auditor")],
    name: str = "",
) -> None:
    """Create a staff account; prints a one-time password to change at first login."""
    settings = safe_settings()
    with database(settings) as db, domain_errors():
        with db.session(_org_id(db, org)) as s:
            user, one_time = orgs.create_staff(
                s, settings, email=email, role=role, name=name, by=_cli(s)
            )
        out.print(f"created {user.role} account; one-time password: [bold]{one_time}[/]")


@staff_app.command("list")
def staff_list(org: OrgArg) -> None:
    """List the staff of an organisation."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        table = Table("e-mail", "role", "active", "2FA", "last login")
        for u in orgs.list_staff(s):
            table.add_row(
                u.email,
                u.role,
                "yes" if u.active else "no",
                "yes" if u.totp_enabled else "no",
                u.last_login_at.isoformat(timespec="minutes") if u.last_login_at else "-",
            )
        out.print(table)


@staff_app.command("reset-password")
def staff_reset_password(org: OrgArg, email: str) -> None:
    """Give an account a new one-time password (and lift a lockout)."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        user = orgs.find_staff_by_email(s, email)
        out.print(
            f"one-time password: [bold]{orgs.reset_password(s, settings, user, by=_cli(s))}[/]"
        )


@staff_app.command("reset-mfa")
def staff_reset_mfa(org: OrgArg, email: str) -> None:
    """Remove an account's TOTP so it enrols again at the next login (lost phone)."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        orgs.disable_totp(s, orgs.find_staff_by_email(s, email), by=_cli(s))
        out.print("two-factor authentication reset; the user enrols again at the next login")


@staff_app.command("set-role")
def staff_set_role(org: OrgArg, email: str, role: str) -> None:
    """Change an account's role."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        orgs.update_staff(s, orgs.find_staff_by_email(s, email), role=role, by=_cli(s))
        out.print(f"role set to {role}")


@staff_app.command("disable")
def staff_disable(org: OrgArg, email: str) -> None:
    """Disable an account (it can no longer log in)."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        orgs.update_staff(s, orgs.find_staff_by_email(s, email), active=False, by=_cli(s))
        out.print("account disabled")


@keys_app.command("create")
def keys_create(
    org: OrgArg,
    name: Annotated[str, typer.Option(help="what the key is for")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="a permission; repeat (default: agent role)")
    ] = None,
) -> None:
    """Create an API key; the key is printed once and never stored."""
    settings = safe_settings()
    scopes = scope or sorted(role_permissions("agent"))
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        key, token = orgs.create_api_key(s, name=name, scopes=scopes, created_by="cli", by=_cli(s))
        out.print(f"key id {key.key_id}, scopes: {', '.join(key.scopes)}")
        out.print("store it now, it is not shown again:")
        print(token)


@keys_app.command("list")
def keys_list(org: OrgArg, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API keys (never their secrets)."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        keys = orgs.list_api_keys(s)
        if as_json:
            rows = [
                {
                    "key_id": k.key_id,
                    "name": k.name,
                    "scopes": k.scopes,
                    "revoked": bool(k.revoked_at),
                }
                for k in keys
            ]
            print(json.dumps(rows))
            return
        table = Table("key id", "name", "scopes", "last used", "revoked")
        for k in keys:
            table.add_row(
                k.key_id,
                k.name,
                ", ".join(k.scopes),
                k.last_used_at.isoformat(timespec="minutes") if k.last_used_at else "-",
                "yes" if k.revoked_at else "",
            )
        out.print(table)


@keys_app.command("revoke")
def keys_revoke(org: OrgArg, key_id: str) -> None:
    """Revoke an API key at once."""
    settings = safe_settings()
    with database(settings) as db, domain_errors(), db.session(_org_id(db, org)) as s:
        orgs.revoke_api_key(s, orgs.get_api_key(s, key_id), by=_cli(s))
        out.print(f"revoked {key_id}")


@keys_app.command("scopes")
def keys_scopes() -> None:
    """List every scope an API key can hold."""
    for name in sorted(ALL_PERMISSIONS):
        print(name)
