"""``privasi breaches``: the breach register on the command line, each command a thin call into
the breach services. The operator acts as the CLI (named in the audit trail); approving a notice
names the DPO who approves it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import Forbidden
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.runtime import safe_settings
from privasi.vault.cli import opened as _opened

from . import affected, documents, notices, service, views
from .models import Breach

out = Console()
app = typer.Typer(
    help="Personal data breaches: register, affected people, notices.", no_args_is_help=True
)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
RefArg = Annotated[str, typer.Argument(help="breach reference (BR-0001) or id")]
AudienceArg = Annotated[str, typer.Argument(help="subjects, authority or business_users")]
T = TypeVar("T")


@contextmanager
def _unit(org: str) -> Iterator[tuple[Database, PrivasiSession, Principal]]:
    with _opened(safe_settings()) as (db, _):
        with db.session(system=True) as s:
            org_id = orgs.get_org_by_slug(s, org).id
        with db.session(org_id) as session:
            yield db, session, orgs.system_principal(org_id, "cli")


def _with_breach(
    org: str, ref: str, fn: Callable[[Database, PrivasiSession, Principal, Breach], T]
) -> T:
    with _unit(org) as (db, session, principal):
        return fn(db, session, principal, service.find(session, ref))


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m"


def _texts(id_text: str | None, en_text: str | None) -> dict[str, str] | None:
    found = {k: v for k, v in (("id", id_text), ("en", en_text)) if v}
    return found or None


@app.command("create")
def create(
    org: OrgArg,
    title: Annotated[str, typer.Option(help="a short title without personal data")],
    detected_at: Annotated[
        datetime | None, typer.Option(help="awareness time (default now); ISO with zone")
    ] = None,
    confirmed_at: Annotated[
        datetime | None, typer.Option(help="confirmation time, if confirmed")
    ] = None,
    occurred_from: Annotated[datetime | None, typer.Option("--from", help="exposure began")] = None,
    occurred_until: Annotated[
        datetime | None, typer.Option("--until", help="exposure ended")
    ] = None,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical")] = "medium",
    system: Annotated[
        list[str] | None, typer.Option(help="a system id of the policy (repeat)")
    ] = None,
    category: Annotated[list[str] | None, typer.Option(help="a category id (repeat)")] = None,
    how_id: Annotated[str | None, typer.Option(help="how it happened, Indonesian")] = None,
    how_en: Annotated[str | None, typer.Option(help="how it happened, English")] = None,
    measures_id: Annotated[
        str | None, typer.Option(help="handling and recovery, Indonesian")
    ] = None,
    measures_en: Annotated[str | None, typer.Option(help="handling and recovery, English")] = None,
    advice_id: Annotated[str | None, typer.Option(help="what people can do, Indonesian")] = None,
    advice_en: Annotated[str | None, typer.Option(help="what people can do, English")] = None,
) -> None:
    """Record a breach; its notice clocks start at the detection time."""
    with _unit(org) as (db, session, principal):
        breach = service.create(
            session,
            principal,
            title=title,
            detected_at=detected_at,
            confirmed_at=confirmed_at,
            occurred_from=occurred_from,
            occurred_until=occurred_until,
            severity=severity,
            systems=system or [],
            categories=category or [],
            description=_texts(how_id, how_en),
            measures=_texts(measures_id, measures_en),
            advice=_texts(advice_id, advice_en),
            business_user_org_ids=notices.business_users_for(db, session.require_org(), None),
            business_user_hours=safe_settings().breach_business_user_hours,
        )
        summary = views.summary(session, breach)
    _echo({k: summary[k] for k in ("reference", "id", "status", "next_due_at", "clocks")})


@app.command("list")
def list_breaches(
    org: OrgArg,
    open_only: Annotated[bool, typer.Option("--open", help="only open breaches")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Breaches with the time left on their earliest unmet notice clock."""
    with _unit(org) as (_, session, _principal):
        now = utcnow()
        rows = [
            views.summary(session, b, now)
            for b in service.list_breaches(session, open_only=open_only)
        ]
    if as_json:
        _echo(rows)
        return
    table = Table("reference", "title", "severity", "status", "next due", "time left")
    for row in rows:
        table.add_row(
            row["reference"],
            row["title"],
            row["severity"],
            row["status"],
            str(row["next_due_at"] or "-"),
            _left(row["time_left_seconds"]),
        )
    out.print(table)


@app.command("show")
def show(org: OrgArg, ref: RefArg) -> None:
    """One breach as JSON: facts, clocks, affected counts, notices, deliveries, timeline."""
    _echo(_with_breach(org, ref, lambda db, s, p, b: views.detail(s, b)))


@app.command("confirm")
def confirm(
    org: OrgArg,
    ref: RefArg,
    at: Annotated[datetime | None, typer.Option(help="confirmation time (default now)")] = None,
) -> None:
    """Record that the incident is confirmed as a breach (the clocks keep running)."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> dict[str, Any]:
        service.confirm(s, p, b, at)
        return {"reference": service.reference(b), "status": b.status}

    _echo(_with_breach(org, ref, run))


@app.command("affected")
def affected_cmd(
    org: OrgArg,
    ref: RefArg,
    discover: Annotated[
        bool, typer.Option("--discover", help="find them from the data map")
    ] = False,
    import_file: Annotated[
        Path | None, typer.Option("--import", help="CSV of e-mails or phone numbers")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="categories of the imported people")
    ] = None,
) -> None:
    """Find or import the affected people, then print the counts (never who they are)."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if discover:
            result["discovered"] = affected.discover(s, p, b).as_dict()
        if import_file is not None:
            pairs = affected.parse_list(import_file.read_text(encoding="utf-8-sig"))
            result["imported"] = affected.import_list(s, p, b, pairs, category).as_dict()
        result["affected"] = affected.counts(s, b)
        return result

    _echo(_with_breach(org, ref, run))


@app.command("draft-notices")
def draft_notices(org: OrgArg, ref: RefArg) -> None:
    """Draft the notices in id and en and print them for review."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> list[dict[str, Any]]:
        return [views.notice_view(s, n) for n in notices.draft(s, p, b)]

    for notice in _with_breach(org, ref, run):
        out.rule(f"{notice['audience']} ({notice['status']})")
        for lang, text in notice["preview"].items():
            out.print(f"[bold]{lang}[/] {text['subject']}")
            typer.echo(text["text"])


@app.command("approve")
def approve(
    org: OrgArg,
    ref: RefArg,
    audience: AudienceArg,
    dpo: Annotated[str, typer.Option("--dpo", help="e-mail of the approving DPO's staff account")],
) -> None:
    """Approve a drafted notice in the name of a DPO of the organisation."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> dict[str, Any]:
        user = orgs.find_staff_by_email(s, dpo)
        if not user.active:
            raise Forbidden("that staff account is disabled")
        notice = notices.approve(s, orgs.staff_principal(user), b, audience)
        return {
            "audience": notice.audience,
            "status": notice.status,
            "approved_by": notice.approved_by,
        }

    _echo(_with_breach(org, ref, run))


@app.command("send")
def send(
    org: OrgArg,
    ref: RefArg,
    audience: AudienceArg,
    submission: Annotated[
        str | None, typer.Option(help="authority: where and how it was submitted")
    ] = None,
) -> None:
    """Send an approved notice through the outbox (authority: record the submission)."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> dict[str, Any]:
        return notices.send(s, p, b, audience, db=db, submission=submission)

    _echo(_with_breach(org, ref, run))


@app.command("export-authority")
def export_authority(
    org: OrgArg,
    ref: RefArg,
    fmt: Annotated[str, typer.Option("--format", help="md or html")] = "md",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write here instead of stdout")
    ] = None,
) -> None:
    """The authority's notice as a bilingual document."""
    if fmt not in ("md", "html"):
        raise typer.BadParameter("--format is md or html")
    text = _with_breach(org, ref, lambda db, s, p, b: documents.authority_document(s, p, b, fmt))
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        out_file.write_text(text, encoding="utf-8")
        out.print(f"written {out_file}")


@app.command("evidence-pack")
def evidence_pack(
    org: OrgArg,
    ref: RefArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="a .json or .zip file; default stdout")
    ] = None,
) -> None:
    """Timeline, decisions, notices and delivery results for the regulator (JSON, or a zip with
    the authority's notice beside it)."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> tuple[dict[str, Any], str]:
        return documents.evidence_pack(s, p, b), documents.authority_markdown(s, b)

    pack, notice = _with_breach(org, ref, run)
    encoded = json.dumps(pack, indent=2, ensure_ascii=False)
    if out_file is None:
        typer.echo(encoded)
        return
    if out_file.suffix == ".zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("evidence.json", encoded)
            archive.writestr("authority-notice.md", notice)
        out_file.write_bytes(buffer.getvalue())
    else:
        out_file.write_text(encoded, encoding="utf-8")
    out.print(f"written {out_file}")


@app.command("close")
def close(
    org: OrgArg,
    ref: RefArg,
    reason: Annotated[str, typer.Option(help="why the case is closed")],
    dismiss: Annotated[
        bool, typer.Option("--dismiss", help="it turned out not to be a breach")
    ] = False,
) -> None:
    """Close the case once every notice is sent, or dismiss it."""

    def run(db: Database, s: PrivasiSession, p: Principal, b: Breach) -> dict[str, Any]:
        service.close(s, p, b, reason, dismissed=dismiss)
        return {"reference": service.reference(b), "status": b.status}

    _echo(_with_breach(org, ref, run))
