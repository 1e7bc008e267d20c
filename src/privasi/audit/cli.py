"""``privasi audit``: checkpoint and verify an organisation's audit chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from privasi.audit import service as audit
from privasi.orgs import service as orgs
from privasi.runtime import err, safe_settings
from privasi.vault.cli import opened as _opened

out = Console()
app = typer.Typer(help="The audit trail: checkpoints and verification.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]


@app.command("checkpoint")
def checkpoint(
    org: OrgArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="also write the checkpoint to this file")
    ] = None,
) -> None:
    """Verify the chain, then store and print its head. Keep the output outside the database."""
    settings = safe_settings()
    with _opened(settings) as (db, vault):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            cp = audit.checkpoint(s, orgs.system_principal(org_id, "cli"), vault=vault)
    text = json.dumps(cp.to_json(), indent=2)
    if out_file is not None:
        out_file.write_text(text + "\n")
    typer.echo(text)


@app.command("verify")
def verify(
    org: OrgArg,
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="a file `audit checkpoint` wrote")
    ] = None,
) -> None:
    """Walk the chain; exit 1 naming the first bad event if anything was changed."""
    settings = safe_settings()
    with _opened(settings) as (db, vault):
        cp = None
        if checkpoint_file is not None:
            try:
                data = json.loads(checkpoint_file.read_text())
            except (OSError, ValueError):
                err.print(f"[red]error:[/] cannot read a checkpoint from {checkpoint_file}")
                raise typer.Exit(2) from None
            cp = audit.Checkpoint.from_json(data)
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            result = audit.verify(s, org_id, cp, vault=vault)
    if not result.ok:
        err.print(f"[red]FAILED[/] at event {result.first_bad_seq}: {result.message}")
        raise typer.Exit(1)
    out.print(
        f"ok: {result.checked} events verified, head at event {result.last_seq}, "
        f"{result.checkpoints_checked} checkpoint(s) matched"
    )
