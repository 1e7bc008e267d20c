"""Building settings and the database for commands, with the messages an operator needs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console

from privasi.config import Settings, UnsafeSettingsError
from privasi.db import Database
from privasi.errors import PrivasiError

err = Console(stderr=True)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "PRIVASI_" + "_".join(str(p) for p in problem["loc"]).upper()
            err.print(f"[red]error:[/] {name}: {problem['msg']}")
        raise typer.Exit(2) from None


def safe_settings() -> Settings:
    settings = load_settings()
    try:
        settings.check_safe()
    except UnsafeSettingsError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    return settings


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """The main database with the vault attached, as every service expects."""
    from privasi.notify import service as notify
    from privasi.vault.service import Vault

    db = Database(settings.db_url)
    vault = Vault.from_settings(settings, db)
    notify.configure(db, settings)
    try:
        yield db
    finally:
        vault.close()
        db.dispose()


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into one red line and exit code 1, as the API turns them into 4xx."""
    try:
        yield
    except PrivasiError as exc:
        err.print(f"[red]error:[/] {exc.detail}")
        raise typer.Exit(1) from None


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
