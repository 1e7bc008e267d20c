"""``privasi requests``: list rights requests by time left, show one, print its evidence."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.db import utcnow
from privasi.errors import NotFound
from privasi.orgs import service as orgs
from privasi.rights import deadlines
from privasi.rights import service as rights
from privasi.runtime import safe_settings
from privasi.vault.cli import opened as _opened

out = Console()
app = typer.Typer(help="Data subject rights requests.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
IdArg = Annotated[str, typer.Argument(help="request number (REQ-000123) or id")]


def _left(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m"


@app.command("list")
def list_requests(
    org: OrgArg,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only open requests")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
) -> None:
    """Requests by time left, soonest due first (overdue ones show a negative time)."""
    with _opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            page = rights.list_requests(s, status=status, open_only=open_only, limit=limit)
            now = utcnow()
            rows = [
                {
                    "number": rights.display_number(r),
                    "id": r.id,
                    "type": r.type,
                    "status": r.status,
                    "channel": r.channel,
                    "received_at": deadlines.local_time(s, r.received_at),
                    "due_at": deadlines.local_time(s, r.due_at),
                    "time_left_seconds": deadlines.time_left(r, now),
                    "verified": r.verified_at is not None,
                }
                for r in page.items
            ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("number", "type", "status", "due (local)", "time left", "verified")
    for row in rows:
        open_ = row["status"] not in ("completed", "denied", "cancelled")
        left = _left(int(str(row["time_left_seconds"]))) if open_ else "-"
        table.add_row(
            str(row["number"]),
            str(row["type"]),
            str(row["status"]),
            str(row["due_at"]),
            left,
            "yes" if row["verified"] else "no",
        )
    out.print(table)


def _evidence(org: str, request_id: str) -> dict[str, object]:
    with _opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            return rights.evidence(s, rights.get_request(s, request_id))


@app.command("show")
def show(org: OrgArg, request_id: IdArg) -> None:
    """One request: its clock, identity check, tasks per system and outcome."""
    data = _evidence(org, request_id)
    request = data["request"]
    assert isinstance(request, dict)
    out.print(
        f"[bold]{request['number']}[/] {request['type']} - {request['status']}\n"
        f"received {request['received_at']}  due {request['due_at_local']} "
        f"({request['deadline_basis']})\n"
        f"verified: {request['verification_method'] or 'not yet'}  "
        f"waiting for the requester: {request['waiting_seconds']} s"
    )
    table = Table("system", "kind", "action", "status", "due", "done at")
    for task in data["tasks"]:  # type: ignore[attr-defined]
        table.add_row(
            task["system"],
            task["kind"],
            task["action"],
            task["status"],
            task["due_at"] or "",
            task["completed_at"] or "",
        )
    out.print(table)


@app.command("evidence")
def evidence(org: OrgArg, request_id: IdArg) -> None:
    """The evidence record as JSON: what was asked, checked, done where and when, and kept."""
    typer.echo(json.dumps(_evidence(org, request_id), indent=2, ensure_ascii=False))


def _act(org: str, request_id: str, action: str, **kwargs: str) -> dict[str, object]:
    """Run one staff action as the CLI operator; the audit trail names the CLI as the actor."""
    from privasi.rights import execution

    with _opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as s:
            principal = orgs.system_principal(org_id, "cli")
            request = rights.get_request(s, request_id)
            if action == "verify":
                rights.mark_verified(s, principal, request, "staff_review", kwargs["note"])
            elif action == "task-done":
                task = next(
                    (t for t in rights.tasks_of(s, request) if t.system_id == kwargs["system"]),
                    None,
                )
                if task is None:
                    raise NotFound(f"no task for system '{kwargs['system']}'")
                execution.complete_task(
                    s, principal, request, task.id, status=kwargs["status"], note=kwargs["note"]
                )
            elif action == "deny":
                rights.deny(s, principal, request, kwargs["ground"], kwargs["note"])
            return {"number": rights.display_number(request), "status": request.status}


NoteOpt = Annotated[str, typer.Option("--note", help="what was checked or done")]


@app.command("verify")
def verify(org: OrgArg, request_id: IdArg, note: NoteOpt) -> None:
    """Record that staff verified the requester's identity (say what was checked)."""
    typer.echo(json.dumps(_act(org, request_id, "verify", note=note)))


@app.command("task-done")
def task_done(
    org: OrgArg,
    request_id: IdArg,
    system: Annotated[str, typer.Argument(help="the system id of the checklist task")],
    note: NoteOpt,
    skipped: Annotated[bool, typer.Option("--skipped", help="not needed; say why")] = False,
) -> None:
    """Tick off the checklist task of another system."""
    status = "skipped" if skipped else "done"
    typer.echo(
        json.dumps(_act(org, request_id, "task-done", system=system, note=note, status=status))
    )


@app.command("deny")
def deny(
    org: OrgArg,
    request_id: IdArg,
    ground: Annotated[str, typer.Option(help=", ".join(rights.DENIAL_GROUNDS))],
    note: NoteOpt,
) -> None:
    """Deny with a ground; the requester is told why."""
    typer.echo(json.dumps(_act(org, request_id, "deny", ground=ground, note=note)))
