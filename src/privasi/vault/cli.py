"""``privasi keys``, ``privasi master-key`` and ``privasi secrets``: thin calls into the vault."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from privasi.config import Settings
from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.runtime import database, domain_errors, err, safe_settings
from privasi.vault import backup as backups
from privasi.vault import master as master_keys
from privasi.vault import service as vault_service
from privasi.vault.core import Vault, attached_to

out = Console()
keys_app = typer.Typer(
    help="The key store: subjects' keys and the shred journal.", no_args_is_help=True
)
master_key_app = typer.Typer(help="The master key that wraps every key.", no_args_is_help=True)
secrets_app = typer.Typer(help="An organisation's stored secrets.", no_args_is_help=True)

OrgArg = Annotated[str, typer.Argument(help="organisation slug")]
NameArg = Annotated[str, typer.Argument(help="secret name, as the policy file refers to it")]


@contextmanager
def opened(settings: Settings) -> Iterator[tuple[Database, Vault]]:
    """The main database and the vault attached to it, for one command."""
    # domain_errors first: a wrong master key is one red line, not a traceback.
    with domain_errors(), database(settings) as db:
        vault = attached_to(db)
        own = vault is None
        if vault is None:
            vault = Vault.from_settings(settings, db)
        try:
            yield db, vault
        finally:
            if own:
                vault.close()


def _org_id(db: Database, slug: str) -> str:
    with db.session(system=True) as s:
        return orgs.get_org_by_slug(s, slug).id


@keys_app.command("reapply-shreds")
def reapply_shreds() -> None:
    """Destroy again every shredded subject's key, e.g. after restoring an older key-store backup."""
    settings = safe_settings()
    with opened(settings) as (db, vault), db.session(system=True) as s:
        result = vault.reapply_shreds(s)
    out.print(
        f"keys destroyed: {result.keys_destroyed}; journal entries restored from the main "
        f"database: {result.journal_restored}; copied back to the main database: "
        f"{result.mirror_restored}"
    )


@keys_app.command("status")
def status() -> None:
    """What the key store holds (counts only) and the backup rule that makes erasure stick."""
    settings = safe_settings()
    with opened(settings) as (_, vault):
        counts = vault.stats()
    out.print(f"master key: {vault.master_key_id}")
    for kind, number in sorted(counts.items()):
        out.print(f"{kind}: {number}")
    out.print(
        f"Back up the main database as often as you like; keep key-store backups no longer than "
        f"{settings.keystore_backup_days} days: a shredded subject's key exists nowhere else."
    )


@keys_app.command("backup")
def backup_keys(
    directory: Annotated[Path, typer.Argument(help="where backups are kept (created 0700)")],
) -> None:
    """Copy the key store into DIRECTORY and delete copies there older than the backup rule."""
    settings = safe_settings()
    with domain_errors():
        result = backups.backup(settings.keys_url, directory, settings.keystore_backup_days)
    out.print(f"key store copied to {result.written}")
    for path in result.removed:
        out.print(f"removed {path.name} (older than {settings.keystore_backup_days} days)")


@master_key_app.command("id")
def master_key_id() -> None:
    """Print the public id of the configured master key (never the key)."""
    settings = safe_settings()
    with opened(settings) as (_, vault):
        out.print(vault.master_key_id)


@master_key_app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path | None,
        typer.Option(help="with PRIVASI_MASTER_KEY set: where to write the new key (mode 0600)"),
    ] = None,
) -> None:
    """Rewrap every key in the key store under a new master key. The main database is untouched."""
    settings = safe_settings()
    from_env = master_keys.from_environment(settings)
    if from_env and new_key_file is None:
        err.print(
            "[red]error:[/] PRIVASI_MASTER_KEY is set, so privasi cannot replace it: pass "
            "--new-key-file PATH; the new key is written there for you to put into "
            "PRIVASI_MASTER_KEY"
        )
        raise typer.Exit(2)
    with opened(settings) as (_, vault):
        new_master = master_keys.generate()
        if from_env:
            assert new_key_file is not None
            try:
                master_keys.write_private(new_key_file, new_master)
            except FileExistsError:
                err.print(f"[red]error:[/] {new_key_file} exists; give a new path")
                raise typer.Exit(2) from None
        result = vault.rotate_master_key(new_master)
    out.print(
        f"rewrapped {result.rewrapped} keys: master key {result.old_key_id} -> {result.new_key_id}"
    )
    if from_env:
        out.print(
            f"Set PRIVASI_MASTER_KEY to the contents of {new_key_file} for every privasi process "
            "and restart them, then delete the file. Processes still on the old key refuse to "
            "create keys until then."
        )
    else:
        out.print(f"{master_keys.key_file(settings)} now holds the new key.")
    out.print(
        f"Key-store backups made before now need the old master key; keep them no longer than "
        f"{settings.keystore_backup_days} days, like every key-store backup."
    )


def _read_value() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("value (not shown): ")
    value = sys.stdin.read()
    # One trailing newline comes from `echo` or a here-string, not from the secret.
    if value.endswith("\n"):
        value = value[:-1]
        if value.endswith("\r"):
            value = value[:-1]
    return value


@secrets_app.command("set")
def secrets_set(org: OrgArg, name: NameArg) -> None:
    """Store a secret; the value is read from stdin (typed without echo on a terminal)."""
    settings = safe_settings()
    value = _read_value()
    with opened(settings) as (db, vault):
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            created = vault_service.set_secret(
                s, orgs.system_principal(org_id, "cli"), name, value, vault=vault
            )
    out.print(f"secret {name} {'stored' if created else 'replaced'} for {org}")


@secrets_app.command("list")
def secrets_list(org: OrgArg) -> None:
    """List secret names and when they changed (never values)."""
    settings = safe_settings()
    with opened(settings) as (db, _):
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            items = vault_service.list_secrets(s)
    table = Table("name", "updated at (UTC)", "updated by")
    for item in items:
        table.add_row(item.name, item.updated_at.strftime("%Y-%m-%d %H:%M"), item.updated_by or "")
    out.print(table)


@secrets_app.command("delete")
def secrets_delete(org: OrgArg, name: NameArg) -> None:
    """Delete a stored secret."""
    settings = safe_settings()
    with opened(settings) as (db, vault):
        org_id = _org_id(db, org)
        with db.session(org_id) as s:
            vault_service.delete_secret(s, orgs.system_principal(org_id, "cli"), name, vault=vault)
    out.print(f"secret {name} deleted for {org}")
