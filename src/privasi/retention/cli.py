"""``privasi retention`` (plan, run, report) and ``privasi holds`` (place, list, release)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.db import Database, PrivasiSession
from privasi.orgs import service as orgs
from privasi.retention import holds, service
from privasi.runtime import safe_settings
from privasi.vault.cli import opened as _opened

out = Console()
app = typer.Typer(help="Retention rules of the policy: plan, run, report.", no_args_is_help=True)
holds_app = typer.Typer(help="Legal holds that stop retention and erasure.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of a table")]


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not an ISO date or date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@contextmanager
def _org(org: str) -> Iterator[tuple[Database, str]]:
    with _opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        yield db, org_id


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'operator')}"[:60]


def _owner() -> str:
    return f"cli:{socket.gethostname()}:{os.getpid()}"


@app.command("plan")
def plan(
    org: OrgArg,
    at: Annotated[str | None, typer.Option(help="plan for this moment (ISO); default now")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What each rule would delete or anonymise now, per rule, system and table."""
    with _org(org) as (db, org_id), db.session(org_id) as s:
        plans = service.plan(s, _when(at))
    if as_json:
        typer.echo(json.dumps([_plan_json(p) for p in plans], indent=2))
        return
    table = Table("rule", "action", "period", "starts", "system", "table", "due now", "note")
    for p in plans:
        for item in p.items:
            due = "?" if item.due is None else str(item.due)
            if item.held:
                due += f" (+{item.held} held)"
            table.add_row(
                p.rule_id,
                item.action,
                p.period,
                p.start,
                item.system_id,
                item.table or "",
                due,
                item.problem or "",
            )
        for skip in p.skipped:
            table.add_row(
                p.rule_id,
                p.action,
                p.period,
                p.start,
                skip.system_id,
                skip.table or "",
                "-",
                f"left alone: {skip.reason} {skip.detail}".strip(),
            )
        if not p.items and not p.skipped:
            table.add_row(p.rule_id, p.action, p.period, p.start, "-", "", "0", "nothing reached")
    out.print(table)


def _plan_json(p: service.RulePlan) -> dict[str, object]:
    return {
        "rule": p.rule_id,
        "action": p.action,
        "period": p.period,
        "start": p.start,
        "cutoff": p.cutoff.isoformat(),
        "due": p.due,
        "items": [
            {
                "system": i.system_id,
                "table": i.table,
                "action": i.action,
                "due": i.due,
                "held": i.held,
                "problem": i.problem,
            }
            for i in p.items
        ],
        "skipped": [
            {"system": s.system_id, "table": s.table, "reason": s.reason, "detail": s.detail}
            for s in p.skipped
        ],
    }


@app.command("run")
def run(
    org: OrgArg,
    rule: Annotated[str | None, typer.Option(help="only this rule")] = None,
    at: Annotated[str | None, typer.Option(help="enforce as of this moment (ISO)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete or anonymise what has run out, rule by rule (an unfinished run is resumed)."""
    with _org(org) as (db, org_id):
        runs = service.run_all(db, org_id, now=_when(at), owner=_owner(), actor=_actor(), only=rule)
    rows = [service.evidence(r) for r in runs]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("run", "rule", "deleted", "anonymised", "shredded", "keys digest")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["rule"]),
            str(row["deleted"]),
            str(row["anonymised"]),
            str(row["shredded"]),
            str(row["keys_digest"])[:16],
        )
    out.print(table)


@app.command("report")
def report(
    org: OrgArg,
    start: Annotated[str, typer.Option("--from", help="start of the period (ISO)")],
    end: Annotated[str, typer.Option("--to", help="end of the period (ISO, exclusive)")],
) -> None:
    """Every run in the period with its evidence and audit event, and the holds in force (JSON)."""
    begin, finish = _when(start), _when(end)
    assert begin is not None and finish is not None
    with _org(org) as (db, org_id), db.session(org_id) as s:
        found = service.report(s, begin, finish)
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False))


@app.command("clock")
def clock(
    org: OrgArg,
    subject_id: Annotated[str, typer.Argument(help="the subject's id")],
    event: Annotated[str, typer.Argument(help="account_closed, contract_end, ...")],
    at: Annotated[str | None, typer.Option(help="when it happened (ISO); default now")] = None,
) -> None:
    """Record an event that starts a retention period for a subject."""
    with _org(org) as (db, org_id), db.session(org_id) as s:
        principal = orgs.system_principal(org_id, _actor())
        found = service.record_clock(s, principal, subject_id, event, _when(at))
        typer.echo(f"{found.event} at {found.occurred_at.isoformat()}")


def _hold_rows(s: PrivasiSession, include_released: bool) -> list[dict[str, object]]:
    return [
        {
            "id": h.id,
            "scope": h.scope,
            "target": h.target,
            "reason": h.reason,
            "owner": h.owner,
            "placed_at": h.created_at.isoformat(),
            "released_at": h.released_at.isoformat() if h.released_at else None,
        }
        for h in holds.listing(s, include_released=include_released)
    ]


@holds_app.command("place")
def place(
    org: OrgArg,
    scope: Annotated[str, typer.Argument(help="subject, category or system")],
    target: Annotated[str, typer.Argument(help="subject id, category id or system id")],
    reason: Annotated[str, typer.Option(help="why the data must be kept")],
    owner: Annotated[str, typer.Option(help="who answers for the hold")],
) -> None:
    """Place a legal hold: retention and erasure leave what it covers until it is released."""
    with _org(org) as (db, org_id), db.session(org_id) as s:
        principal = orgs.system_principal(org_id, _actor())
        hold = holds.place(s, principal, scope=scope, target=target, reason=reason, owner=owner)
        typer.echo(hold.id)


@holds_app.command("list")
def list_holds(
    org: OrgArg,
    include_released: Annotated[bool, typer.Option("--all", help="released ones too")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Holds in force (with --all, released ones too): scope, target, reason and owner."""
    with _org(org) as (db, org_id), db.session(org_id) as s:
        rows = _hold_rows(s, include_released)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("id", "scope", "target", "reason", "owner", "placed", "released")
    for row in rows:
        table.add_row(
            *(
                str(row[k] or "")
                for k in ("id", "scope", "target", "reason", "owner", "placed_at", "released_at")
            )
        )
    out.print(table)


@holds_app.command("release")
def release(
    org: OrgArg,
    hold_id: Annotated[str, typer.Argument(help="the hold's id")],
    note: Annotated[str | None, typer.Option(help="why it ends")] = None,
) -> None:
    """Release a hold; waiting erasures run again and the next sweep covers the data."""
    with _org(org) as (db, org_id), db.session(org_id) as s:
        principal = orgs.system_principal(org_id, _actor())
        holds.release(s, principal, holds.get(s, hold_id), note)
        typer.echo("released")
