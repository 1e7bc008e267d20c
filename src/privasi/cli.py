"""The ``privasi`` command: every command is a thin call into a service."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from privasi import __version__
from privasi.registry import import_if_present

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from privasi.config import Settings

out = Console()
app = typer.Typer(
    name="privasi",
    help="privasi: a privacy policy that runs (UU PDP, GDPR).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Sub-commands that live beside their domain: (module, attribute, command name).
SUBCOMMANDS = [
    ("privasi.orgs.cli", "orgs_app", "orgs"),
    ("privasi.orgs.cli", "staff_app", "staff"),
    ("privasi.orgs.cli", "keys_app", "api-keys"),
    ("privasi.policy.cli", "app", "policy"),
    ("privasi.pii.cli", "app", "pii"),
    ("privasi.vault.cli", "keys_app", "keys"),
    ("privasi.vault.cli", "master_key_app", "master-key"),
    ("privasi.vault.cli", "secrets_app", "secrets"),
    ("privasi.audit.cli", "app", "audit"),
    ("privasi.connectors.cli", "app", "connectors"),
    ("privasi.consent.cli", "app", "consent"),
    ("privasi.notify.cli", "app", "outbox"),
    ("privasi.rights.cli", "app", "requests"),
    ("privasi.retention.cli", "app", "retention"),
    ("privasi.retention.cli", "holds_app", "holds"),
    ("privasi.breach.cli", "app", "breaches"),
    ("privasi.gateway.cli", "app", "gateway"),
]
for module_name, attribute, command in SUBCOMMANDS:
    module = import_if_present(module_name)
    if module is not None:
        app.add_typer(getattr(module, attribute), name=command)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="create the demo organisation and its owner")] = True,
) -> None:
    """Create the data directory, the database schema, the keys and (by default) the demo organisation."""
    from privasi.bootstrap import initialise
    from privasi.runtime import domain_errors, safe_settings

    settings = safe_settings()
    with domain_errors():
        result = initialise(settings, demo=demo)
    _print_welcome(settings, result)


def _print_welcome(settings: object, result: object) -> None:
    from privasi.bootstrap import InitResult
    from privasi.config import Settings

    assert isinstance(settings, Settings) and isinstance(result, InitResult)
    base = settings.public_url
    out.print(f"data directory: {settings.data_dir.resolve()}")
    if result.org_slug is None:
        return
    out.print(f"admin:          {base}/admin  (organisation: {result.org_slug})")
    out.print(f"API docs:       {base}/docs")
    out.print(f"privacy notice: {base}/privacy/{result.org_slug}")
    out.print(f"owner login:    {result.owner_email}")
    if result.one_time_password:
        out.print(f"owner one-time password: [bold]{result.one_time_password}[/]")
        out.print("(change it at first login; two-factor set-up follows)")
    else:
        out.print(
            "owner password: already chosen by the owner "
            "(reset with `privasi staff reset-password digimetalab EMAIL`)"
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (PRIVASI_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (PRIVASI_PORT)")] = None,
    init_first: Annotated[
        bool, typer.Option("--init/--no-init", help="run `privasi init` first")
    ] = False,
) -> None:
    """Serve the API, the web pages and (by default) the worker in one process."""
    from privasi import logs
    from privasi.app import create_app
    from privasi.bootstrap import initialise
    from privasi.runtime import domain_errors, load_settings

    settings = load_settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if updates:
        settings = settings.model_copy(update=updates)
    from privasi.runtime import err

    try:
        settings.check_safe()
    except Exception as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if init_first:
        with domain_errors():
            _print_welcome(settings, initialise(settings))
    logs.configure(settings.log_level)
    run_app(create_app(settings), settings)


def run_app(application: ASGIApp, settings: Settings, *, freeze: bool = True) -> None:
    """Serve a built app the way `privasi serve` does (bench/gateway.py serves through here too)."""
    import gc

    import uvicorn

    if freeze:
        # Start-up's objects (routes, templates, the PII engine's tables) are kept for the
        # process's life; frozen, a full collection no longer walks them, which paused a served
        # process for ~95 ms (bench/README.md, gateway).
        gc.collect()
        gc.freeze()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # Behind a TLS proxy: the client's address (rate limits per network, audit) and scheme
        # come from X-Forwarded-* headers, trusted only from these addresses.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="run one pass and exit")] = False,
) -> None:
    """Run the worker loop: deadlines, sweeps and deliveries that have come due."""
    from privasi import logs
    from privasi import worker as worker_mod
    from privasi.runtime import database, safe_settings

    settings = safe_settings()
    logs.configure(settings.log_level)
    with database(settings) as db:
        if once:
            out.print(worker_mod.tick(db))
            return
        stop = threading.Event()
        try:
            worker_mod.run_forever(db, settings.worker_interval_seconds, stop)
        except KeyboardInterrupt:
            stop.set()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations (SQLite or PostgreSQL)."""
    from privasi.migrate import current_revision, upgrade
    from privasi.runtime import safe_settings

    settings = safe_settings()
    upgrade(settings.db_url, revision)
    out.print(f"database at revision {current_revision(settings.db_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the code's head."""
    from privasi.migrate import current_revision, head_revision
    from privasi.runtime import safe_settings

    settings = safe_settings()
    out.print(f"database: {current_revision(settings.db_url)}  code: {head_revision()}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
