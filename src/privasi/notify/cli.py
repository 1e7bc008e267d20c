"""``privasi outbox``: see and steer outgoing messages, preview templates, test a channel."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.audit import service as audit
from privasi.db import Database
from privasi.notify import delivery
from privasi.notify import service as notify
from privasi.notify.models import OutboxMessage
from privasi.orgs import service as orgs
from privasi.runtime import domain_errors, err, safe_settings
from privasi.vault.cli import opened

out = Console()
app = typer.Typer(
    help="The outbox: outgoing e-mail, WhatsApp and webhook messages.", no_args_is_help=True
)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
IdArg = Annotated[str, typer.Argument(help="message id")]


def _org_id(db: Database, slug: str) -> str:
    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, slug).id


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"


def _row(message: OutboxMessage) -> dict[str, object]:
    return {
        "id": message.id,
        "channel": message.channel,
        "template": message.template,
        "lang": message.lang,
        "subject_id": message.subject_id,
        "status": message.status,
        "attempts": f"{message.attempts}/{message.max_attempts}",
        "next_attempt_at": _when(message.next_attempt_at) if message.status == "pending" else "-",
        "last_error": message.last_error,
        "provider_message_id": message.provider_message_id,
        "created_at": _when(message.created_at),
        "sent_at": _when(message.sent_at),
    }


@app.command("list")
def list_messages(
    org: OrgArg,
    subject: Annotated[str | None, typer.Option(help="one subject's messages")] = None,
    status: Annotated[str | None, typer.Option(help="pending, sent, failed, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=notify.MAX_PAGE)] = 50,
) -> None:
    """Messages newest first with their delivery state (never their content)."""
    settings = safe_settings()
    with opened(settings) as (db, _):
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            page = notify.list_messages(s, subject_id=subject, status=status, limit=limit)
            rows = [_row(m) for m in page.items]
    table = Table("id", "channel", "template", "status", "attempts", "created", "error")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["channel"]),
            f"{row['template']} ({row['lang']})",
            str(row["status"]),
            str(row["attempts"]),
            str(row["created_at"]),
            str(row["last_error"] or ""),
        )
    out.print(table)


@app.command("show")
def show(org: OrgArg, message_id: IdArg) -> None:
    """One message's delivery state, as JSON."""
    settings = safe_settings()
    with opened(settings) as (db, _), db.session(_org_id(db, org)) as s:
        row = _row(notify.message_status(s, message_id))
    typer.echo(json.dumps(row, indent=2))


def _steer(org: str, message_id: str, action: str) -> None:
    settings = safe_settings()
    with opened(settings) as (db, _):
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            message = (notify.retry if action == "retried" else notify.cancel)(s, message_id)
            audit.record(
                s,
                orgs.system_principal(org_id, "cli"),
                f"outbox.{action}",
                subject_id=message.subject_id,
                details={"message_id": message.id, "template": message.template},
            )
            out.print(f"message {message.id}: {message.status}")


@app.command("retry")
def retry(org: OrgArg, message_id: IdArg) -> None:
    """Give a failed message a fresh set of attempts (after fixing what made it fail)."""
    _steer(org, message_id, "retried")


@app.command("cancel")
def cancel(org: OrgArg, message_id: IdArg) -> None:
    """Stop a message that has not been sent; its content is removed."""
    _steer(org, message_id, "cancelled")


@app.command("preview")
def preview(
    template: Annotated[str, typer.Argument(help="template name; see `privasi outbox templates`")],
    lang: Annotated[str, typer.Option(help="id or en")] = "id",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (JSON values allowed)")
    ] = None,
    html: Annotated[bool, typer.Option(help="print the HTML part instead of the text")] = False,
) -> None:
    """Render a template with example parameters, to review its wording."""
    params: dict[str, object] = {"org_name": "Contoh"}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep:
            err.print(f"[red]error:[/] --param takes NAME=VALUE, not {name!r}")
            raise typer.Exit(2)
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    with domain_errors():
        rendered = notify.render(template, lang, params)
    if html:
        typer.echo(rendered.html)
        return
    typer.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
    typer.echo(f"--- WhatsApp ---\n{rendered.whatsapp}")


@app.command("templates")
def templates() -> None:
    """The message templates and the parameters each takes."""
    from privasi.notify.templates import catalogue

    for spec in catalogue().values():
        params = ", ".join([*spec.required, *(f"[{p}]" for p in spec.optional)]) or "-"
        out.print(f"[bold]{spec.name}[/]: {spec.description}\n  parameters: {params}")


@app.command("send-test")
def send_test(
    org: OrgArg,
    to: Annotated[str, typer.Option(help="e-mail address, WhatsApp number or webhook URL")],
    channel: Annotated[str, typer.Option(help="email, whatsapp or webhook")] = "email",
    lang: Annotated[str, typer.Option(help="id or en")] = "id",
) -> None:
    """Send a test message now through the organisation's settings; exit 1 if it fails."""
    settings = safe_settings()
    with opened(settings) as (db, _):
        notify.configure(db, settings)
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            message_id = notify.enqueue(
                s, channel=channel, template="delivery_test", lang=lang, params={}, to=to
            ).id
        outcome = delivery.deliver(db, message_id)
        with db.session(org_id) as s:
            message = notify.message_status(s, message_id)
            if outcome == "retry":
                # A test is for now: do not keep retrying in the background.
                notify.cancel(s, message_id)
    if outcome != "sent":
        err.print(f"[red]not sent[/] ({message.last_error}); message {message_id}")
        raise typer.Exit(1)
    out.print(f"sent: message {message_id} ({message.provider_message_id or 'no provider id'})")
