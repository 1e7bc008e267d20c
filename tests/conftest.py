"""Shared fixtures: settings, a fresh database per test (SQLite or PostgreSQL), the app and clients.

The schema is built once per run (Alembic migrations into a template) and copied for every test:
a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. Set
``PRIVASI_TEST_DATABASE_URL`` to a PostgreSQL server URL (``make test`` does) to run the ``db``
tests there.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from privasi.config import Settings
from privasi.db import Database

hypothesis_settings.register_profile("privasi", max_examples=60, deadline=None)
hypothesis_settings.load_profile("privasi")

PG_URL = os.environ.get("PRIVASI_TEST_DATABASE_URL", "")
BACKEND = "postgresql" if PG_URL else "sqlite"
MASTER_KEY = base64.b64encode(b"m" * 32).decode()
# The tests' business databases are SQLite files, or schemas in the suite's own PostgreSQL
# database: both are "local" to privasi, which an install must allow (tests/connectors/test_targets.py
# checks the refusals with the setting off). Set here so CLI runs that read the environment agree.
os.environ["PRIVASI_CONNECTOR_LOCAL_DATABASES"] = "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if {"db", "app", "client"} & set(fixtures):
            item.add_marker(pytest.mark.db)
        if "pg_only" in item.keywords and BACKEND != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (PRIVASI_TEST_DATABASE_URL)"))


def build_schema(url: str) -> None:
    from privasi.migrate import upgrade

    upgrade(url)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite"
        build_schema(f"sqlite:///{path}")
        yield str(path)
        return
    from sqlalchemy import create_engine, text

    from privasi.db import normalise_url

    admin_url = normalise_url(PG_URL)
    name = f"privasi_tpl_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    build_schema(_pg_db_url(admin_url, name))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_db_url(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    if BACKEND == "sqlite":
        target = tmp_path / "privasi.sqlite"
        shutil.copyfile(_template, target)
        yield f"sqlite:///{target}"
        return
    from sqlalchemy import create_engine, text

    from privasi.db import normalise_url

    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"privasi_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"'))
    yield _pg_db_url(normalise_url(PG_URL), name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "var",
        "secret_key": "test-secret-key-" + "s" * 32,
        "master_key": MASTER_KEY,
        "keystore_url": f"sqlite:///{tmp_path / 'keys.sqlite'}",
        # Cheap argon2 under test; tests/orgs/test_passwords.py asserts the production defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "worker_in_process": False,
        "connector_local_databases": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    from privasi.vault.service import Vault

    database = Database(settings.db_url)
    # Services find the vault through the session's engine (audit keys, subject keys, secrets).
    vault = Vault.from_settings(settings, database)
    yield database
    vault.close()
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from privasi.app import create_app

    return create_app(settings, db=db)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


class OrgHandle:
    """An organisation made for a test, with an all-scopes API key."""

    def __init__(self, org_id: str, slug: str, token: str) -> None:
        self.id = org_id
        self.slug = slug
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_org(db: Database):  # type: ignore[no-untyped-def]
    from privasi.orgs import service as orgs
    from privasi.orgs.permissions import ALL_PERMISSIONS

    def factory(slug: str, role: str = "controller", scopes: object = None) -> OrgHandle:
        with db.session(system=True) as s:
            org = orgs.create_org(s, slug, slug.title(), role=role)
        with db.session(org.id) as s:
            _, token = orgs.create_api_key(
                s,
                name="test",
                scopes=scopes or sorted(ALL_PERMISSIONS),  # type: ignore[arg-type]
            )
        return OrgHandle(org.id, slug, token)

    return factory


# --- browser tests ------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# As root, Chromium needs --no-sandbox; the networking switches keep it from calling home on a
# machine without internet access.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser(path: Path = CHROMIUM) -> None:
    """Skip with the reason on a developer machine without a browser; in CI (CI=true) fail."""
    reason = None
    if not path.exists():
        reason = f"{path} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture
def browser_check():  # type: ignore[no-untyped-def]
    return require_browser


@pytest.fixture
def chromium():  # type: ignore[no-untyped-def]
    """A headless Debian Chromium driven by Playwright (see ``require_browser``)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(settings: Settings, db: Database) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    from privasi.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, db=db), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def publish_example(db: Database):  # type: ignore[no-untyped-def]
    """Publish an example policy (default the demo's) for an organisation made with ``make_org``."""
    import yaml

    from privasi.orgs.service import system_principal
    from privasi.policy import service as policies

    examples = Path(__file__).resolve().parents[1] / "examples"

    def publish(
        org: OrgHandle, example: str = "digimetalab", effective: str = "2026-01-01"
    ) -> None:
        doc = yaml.safe_load((examples / f"{example}.yaml").read_text(encoding="utf-8"))
        doc["organisation"]["slug"] = org.slug
        doc["effective_date"] = effective
        source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        policies.load_and_publish(db, org.id, system_principal(org.id), source, f"{example}.yaml")

    return publish
