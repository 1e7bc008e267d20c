"""``privasi consent``: a subject's consent evidence, and checks, from the command line."""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from privasi import csvsafe
from privasi.consent import evidence
from privasi.consent import service as consent
from privasi.orgs import service as orgs
from privasi.runtime import database, domain_errors, safe_settings

app = typer.Typer(help="Consent records: evidence exports and checks.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
SubjectArg = Annotated[str, typer.Argument(help="the subject's id (never an e-mail or phone)")]


class Format(StrEnum):
    json = "json"
    csv = "csv"


CSV_COLUMNS = [
    "occurred_at", "purpose", "action", "seq", "policy_version", "language", "channel", "method",
    "source", "user_agent", "client_addr", "guardian_id", "actor", "id", "text_sha256", "text",
]  # fmt: skip


def _csv(doc: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for event in doc["events"]:
        row = {k: v for k, v in event.items() if k != "proof"} | event["proof"]
        writer.writerow(csvsafe.row({k: row.get(k) for k in CSV_COLUMNS}))
    return buffer.getvalue()


def _org_id(db: Any, slug: str) -> str:
    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, slug).id


@app.command("export")
def export(
    org: OrgArg,
    subject_id: SubjectArg,
    fmt: Annotated[Format, typer.Option("--format", help="json (full) or csv (events)")] = (
        Format.json
    ),
    out_file: Annotated[Path | None, typer.Option("--out", help="write here, not stdout")] = None,
) -> None:
    """A subject's full consent history with proof (UU PDP Pasal 24). The export itself is
    recorded in the audit trail."""
    settings = safe_settings()
    with domain_errors(), database(settings) as db:
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            doc = evidence.export(s, subject_id)
            from privasi.audit import service as audit

            audit.record(
                s,
                orgs.system_principal(org_id, "cli"),
                "consent.exported",
                subject_id=subject_id,
                details={"format": fmt.value, "events": len(doc["events"])},
            )
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if fmt is Format.json else _csv(doc)
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@app.command("check")
def check(org: OrgArg, subject_id: SubjectArg, purpose: str) -> None:
    """Whether the subject's data may be used for PURPOSE now; exit 1 when it may not."""
    settings = safe_settings()
    with domain_errors(), database(settings) as db:
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            [decision] = consent.check(s, [subject_id], purpose)
    typer.echo(f"{'allowed' if decision.allowed else 'not allowed'}: {decision.reason}")
    if not decision.allowed:
        raise typer.Exit(1)
