"""Where an organisation's `sql` connector may connect.

The connection URL is an organisation's secret, set by its own staff, and the connector's
statements run on a plain engine outside the tenant-scoping listener. Pointed at privasi's own
database, a policy could declare ``organisations`` or ``api_keys`` as its tables and read or
rewrite every tenant's rows through access and rectification requests. So privasi's own
databases are never a target, and anything local to privasi's host (SQLite files, the database
server privasi itself uses) is refused unless the operator says the install serves one business
(``PRIVASI_CONNECTOR_LOCAL_DATABASES``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from privasi.config import Settings
from privasi.connectors.tables import ConnectorError
from privasi.db import normalise_url

SETTING = "PRIVASI_CONNECTOR_LOCAL_DATABASES"
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433, "oracle": 1521}


def _parse(text: str) -> URL:
    try:
        return make_url(normalise_url(text.strip()))
    except (ArgumentError, ValueError):
        # The URL is a secret (it may carry a password): never repeated in the message.
        raise ConnectorError("the stored connection URL is not a SQLAlchemy URL") from None


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if url.query.get("uri") in ("true", "1") or database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser().resolve()


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)  # hard links and bind mounts
    except OSError:
        return False


def _is_local(host: str) -> bool:
    # No host, or a path, is a Unix socket on this machine.
    if host in ("", "localhost") or host.startswith("/") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _server(url: URL) -> tuple[str, str, int | None]:
    backend = url.get_backend_name()
    host = (url.host or str(url.query.get("host", ""))).lower()
    return backend, "local" if _is_local(host) else host, url.port or DEFAULT_PORTS.get(backend)


# Where privasi's own tables live on PostgreSQL (it sets no schema of its own) and the catalogues.
OWN_SCHEMAS = frozenset({"public", "information_schema"})


def _same_database(url: URL, mine: URL) -> bool:
    return _server(url) == _server(mine) and (url.database or "") == (mine.database or "")


def check_sql_target(
    text: str, settings: Settings, own: Iterable[str], tables: Iterable[str] = ()
) -> None:
    """Refuse a connection URL that reaches privasi's own databases (``own``: their URLs) or,
    unless the operator allows local databases, anything on privasi's host. ``tables``: the
    system's declared table names, which may share privasi's own database (allowed locally) only
    from schemas of their own."""
    url = _parse(text)
    own_urls = [_parse(u) for u in own]
    local_allowed = settings.connector_local_databases
    if url.get_backend_name() == "sqlite":
        if not local_allowed:
            raise ConnectorError(
                "sql connectors may not open SQLite files on privasi's host; an operator of an "
                f"install that serves one business can allow it with {SETTING}=true"
            )
        target = _sqlite_file(url)
        for mine in own_urls:
            path = _sqlite_file(mine) if mine.get_backend_name() == "sqlite" else None
            if target is not None and path is not None and _same_file(target, path):
                raise ConnectorError("the connection URL points at privasi's own database")
        return
    servers = [mine for mine in own_urls if mine.get_backend_name() != "sqlite"]
    if not local_allowed:
        if _server(url)[1] == "local" or any(_server(mine) == _server(url) for mine in servers):
            raise ConnectorError(
                "the connection URL points at privasi's own host or database server; use the "
                f"business's own server, or (one business per install) set {SETTING}=true"
            )
        return
    if any(_same_database(url, mine) for mine in servers):
        for name in tables:
            schema = name.rpartition(".")[0].lower()
            if not schema or schema in OWN_SCHEMAS or schema.startswith("pg_"):
                raise ConnectorError(
                    f"table '{name}' would be read in privasi's own database; a business's "
                    "tables there must be declared in a schema of their own"
                )
