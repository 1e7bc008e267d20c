"""``privasi connectors``: check a system's connection against the policy, changing nothing."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.connectors.check import parse_identifiers, run_check
from privasi.connectors.tables import ConnectorError
from privasi.orgs import service as orgs
from privasi.runtime import safe_settings
from privasi.vault.cli import opened

out = Console()
err = Console(stderr=True)
app = typer.Typer(help="The business's own systems (sql, http).", no_args_is_help=True)


@app.callback()
def connectors() -> None:
    """The business's own systems (sql, http)."""


@app.command("test")
def test_system(
    org: Annotated[str, typer.Argument(help="organisation slug")],
    system: Annotated[str, typer.Argument(help="system id from the policy")],
    identifier: Annotated[
        list[str] | None,
        typer.Option(
            "--identifier",
            "-i",
            help="a test subject as kind=value (email=..., phone=..., external=...); repeatable",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables")] = False,
) -> None:
    """Check the credential, the declared tables and columns, and count what an access request
    would read for a test identifier (counts only, never values). Exit code 1 when a check fails."""
    with opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        try:
            wanted = parse_identifiers(identifier) if identifier else None
            with db.session(org_id) as s:
                report = run_check(s, system, wanted)
        except ConnectorError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for check in report.checks:
            mark = "[green]ok[/]" if check["ok"] else "[red]FAIL[/]"
            out.print(f"{mark}  {check['check']}: {check['detail']}")
        if report.tables:
            table = Table("table", "matched by", "rows", "per category", "erasure", "kept")
            for t in report.tables:
                table.add_row(
                    t.name,
                    t.match,
                    "-" if t.rows is None else str(t.rows),
                    ", ".join(f"{c}: {n}" for c, n in sorted(t.categories.items())) or "-",
                    t.erasure,
                    ", ".join(t.kept_columns) or "-",
                )
            out.print(table)
    if not report.ok:
        raise typer.Exit(1)
