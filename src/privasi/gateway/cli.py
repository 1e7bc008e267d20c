"""``privasi gateway configure/show/test``: the upstream an organisation's chat calls go to."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from privasi.gateway import service, upstream
from privasi.orgs import service as orgs
from privasi.pii import ALL_ENTITIES
from privasi.runtime import database, domain_errors, err, safe_settings
from privasi.vault.core import Vault, attached_to

out = Console()
app = typer.Typer(help="The LLM privacy gateway's upstream provider.", no_args_is_help=True)
OrgArg = Annotated[str, typer.Argument(help="organisation slug")]


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("provider API key (not shown): ")
    return sys.stdin.read().strip()


@app.command("configure")
def configure(
    org: OrgArg,
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible base URL, e.g. .../v1")],
    recipient: Annotated[
        str | None, typer.Option(help="the provider's recipient id in the policy (groq, openai)")
    ] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="calls per API key and minute (default: the setting)")
    ] = None,
    key: Annotated[
        bool, typer.Option("--key/--no-key", help="read the provider's API key from stdin")
    ] = True,
) -> None:
    """Point the gateway at a provider; its API key is read from stdin and stored sealed."""
    settings = safe_settings()
    api_key = _read_key() if key else None
    if key and not api_key:
        err.print("no API key given on stdin (use --no-key for a provider without one)")
        raise typer.Exit(2)
    with domain_errors(), database(settings) as db:
        vault = attached_to(db) or Vault.from_settings(settings, db)
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            row = service.configure(
                s,
                orgs.system_principal(org_id, "cli"),
                base_url=base_url,
                api_key=api_key,
                recipient_id=recipient,
                rate_limit_per_minute=rate_limit,
                vault=vault,
            )
            terms = service.current_terms(s, row.recipient_id)
    out.print(f"gateway of {org} -> {row.base_url} as recipient '{terms.recipient.id}'")


@app.command("show")
def show(org: OrgArg) -> None:
    """The upstream and what the policy in effect makes the gateway do (never the key)."""
    settings = safe_settings()
    with domain_errors(), database(settings) as db:
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            row = service.get_upstream(s)
            if row is None:
                err.print(f"no upstream is configured for {org}: privasi gateway configure")
                raise typer.Exit(1)
            terms = service.current_terms(s, row.recipient_id)
    recipient = terms.recipient
    out.print(f"base URL:    {row.base_url}")
    out.print(f"API key:     {'stored (sealed)' if row.credential else 'none'}")
    out.print(f"recipient:   {recipient.id} ({', '.join(recipient.countries)})")
    limit = row.rate_limit_per_minute or settings.gateway_rate_limit_per_minute
    out.print(f"rate limit:  {limit} calls per key and minute")
    days = terms.retention.total_seconds() / 86400
    since = "last use" if terms.from_last_use else "first message"
    out.print(f"retention:   {days:g} days from the {since}; chat logs kept: {terms.keep_logs}")
    table = Table("entity type", "action")
    for entity in sorted(ALL_ENTITIES):
        table.add_row(entity, recipient.action_for(entity).value)
    out.print(table)


@app.command("test")
def test(org: OrgArg) -> None:
    """Check the provider answers with the stored key (lists its models; sends no chat)."""
    settings = safe_settings()
    with domain_errors(), database(settings) as db:
        vault = attached_to(db) or Vault.from_settings(settings, db)
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            row = service.get_upstream(s)
            if row is None:
                err.print(f"no upstream is configured for {org}: privasi gateway configure")
                raise typer.Exit(1)
            key = service.upstream_key(s, row, vault=vault)
            service.current_terms(s, row.recipient_id)
    try:
        response = httpx.get(
            row.base_url + "/models",
            headers=upstream.headers_for(key),
            timeout=settings.gateway_upstream_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        err.print(f"the provider cannot be reached: {type(exc).__name__}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        err.print(f"the provider answered HTTP {response.status_code}")
        raise typer.Exit(1)
    try:
        count = len(response.json().get("data") or [])
    except ValueError:
        err.print("the provider's answer is not JSON")
        raise typer.Exit(1) from None
    out.print(f"ok: the provider answers and lists {count} model(s)")
