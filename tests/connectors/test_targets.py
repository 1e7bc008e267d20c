"""An organisation's `sql` connector never reaches privasi's own databases, and reaches nothing on
privasi's host unless the operator allows local databases (one business per install)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from privasi.config import Settings
from privasi.connectors import sql
from privasi.connectors.tables import ConnectorError
from privasi.connectors.targets import check_sql_target
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.vault.service import set_secret, vault_for

from .conftest import External


def _settings(local: bool) -> Settings:
    return Settings(_env_file=None, env="test", connector_local_databases=local)  # type: ignore[call-arg]


OWN_PG = ["postgresql+psycopg://privasi:***@db.internal:5432/privasi"]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////srv/toko/shop.sqlite",
        "sqlite://",
        "postgresql://toko:pw@localhost/toko",
        "postgresql://toko:pw@127.0.0.2:5432/toko",
        "postgresql://toko:pw@[::1]/toko",
        "postgresql:///toko?host=/var/run/postgresql",
        "postgresql://toko:pw@DB.internal/toko",  # privasi's server, another database
        "postgres://toko:pw@db.internal:5432/privasi",
    ],
)
def test_local_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(ConnectorError) as refused:
        check_sql_target(url, _settings(False), OWN_PG)
    assert "PRIVASI_CONNECTOR_LOCAL_DATABASES" in str(refused.value)
    assert "pw" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://toko:pw@db.toko.example/toko",
        "postgresql://toko:pw@db.internal:6543/toko",  # another server on privasi's host name
        "mysql+pymysql://toko:pw@10.20.0.7/toko",
    ],
)
def test_the_business_servers_are_reachable(url: str) -> None:
    check_sql_target(url, _settings(False), OWN_PG)


def test_privasis_own_files_are_refused_even_when_local_databases_are_allowed(
    tmp_path: Path,
) -> None:
    own = tmp_path / "var" / "privasi.sqlite"
    keys = tmp_path / "var" / "keys.sqlite"
    own.parent.mkdir()
    own.touch()
    keys.touch()
    os.symlink(own, tmp_path / "shop.sqlite")
    os.link(keys, tmp_path / "chat.sqlite")
    mine = [f"sqlite:///{own}", f"sqlite:///{keys}"]
    allowed = _settings(True)
    for url in (
        f"sqlite:///{own}",
        f"sqlite+pysqlite:///{tmp_path}/var/../var/privasi.sqlite",
        f"sqlite:///file:{own}?mode=ro&uri=true",
        f"sqlite:///{tmp_path / 'shop.sqlite'}",  # a symbolic link to it
        f"sqlite:///{tmp_path / 'chat.sqlite'}",  # a hard link to the key store
    ):
        with pytest.raises(ConnectorError, match="privasi's own database"):
            check_sql_target(url, allowed, mine)
    check_sql_target(f"sqlite:///{tmp_path / 'toko.sqlite'}", allowed, mine)
    with pytest.raises(ConnectorError, match="not a SQLAlchemy URL"):
        check_sql_target("bukan url rahasia", allowed, mine)


def test_a_policy_pointing_the_connector_at_privasi_itself_reads_nothing(
    db: Any, toko: Any, external: External, settings: Settings, monkeypatch: Any
) -> None:
    """The attack: the organisation's own secret set to privasi's database URL, and a policy that
    declares privasi's tables as the business's, to read or rectify other tenants' rows."""
    principal = orgs.system_principal(toko.id, "test")
    with db.session(toko.id) as s:
        source = external.policy_source().replace(external.name("customers"), "organisations")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
        set_secret(s, principal, "shop_db", settings.db_url)
        system = policies.current_policy(s).system("shop")
        # Even where an operator allows local databases, privasi's own file is never opened, nor
        # are tables outside a business schema of privasi's own PostgreSQL database.
        with pytest.raises(ConnectorError, match="privasi's own"):
            sql.connect(s, system, fresh=True)
        off = settings.model_copy(update={"connector_local_databases": False})
        monkeypatch.setattr(vault_for(s), "_settings", off)
        with pytest.raises(ConnectorError, match="PRIVASI_CONNECTOR_LOCAL_DATABASES"):
            sql.connect(s, system, fresh=True)


def test_the_connector_check_command_says_why(
    db: Any, toko: Any, external: External, settings: Settings
) -> None:
    from privasi.connectors import check

    with db.session(toko.id) as s:
        set_secret(s, orgs.system_principal(toko.id, "test"), "chat_db", settings.keys_url)
    with db.session(toko.id) as s:
        report = check.run_check(s, "chat", {})
    assert not report.ok
    [connect] = [c for c in report.checks if c["check"] == "connect"]
    assert not connect["ok"] and "privasi's own database" in connect["detail"]
