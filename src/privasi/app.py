"""The FastAPI app factory: mounts each domain's router and the web pages, maps errors once."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

import privasi
from privasi import worker
from privasi.config import Settings
from privasi.db import Database
from privasi.http import problems
from privasi.http.middleware import Metrics, RequestMiddleware
from privasi.migrate import current_revision, head_revision
from privasi.registry import import_if_present

log = logging.getLogger("privasi.app")

# Routers of every domain, mounted in this order. tests/test_isolation.py walks the mounted routes
# and fails on any route its isolation matrix does not cover.
ROUTERS = [
    # First: every chat call is matched against the routes in order, and this path is the busiest.
    "privasi.gateway.api",
    "privasi.orgs.api",
    "privasi.policy.api",
    "privasi.audit.api",
    "privasi.vault.api",
    "privasi.subjects.api",
    "privasi.consent.api",
    "privasi.web.pages",
    "privasi.web.privacy",
    "privasi.consent.channels.api",
    "privasi.notify.api",
    "privasi.consent.banner.api",
    "privasi.consent.center",
    "privasi.rights.api",
    "privasi.rights.meta",
    "privasi.rights.center",
    "privasi.rights.downloads",
    "privasi.connectors.http_api",
    "privasi.retention.api",
    "privasi.breach.api",
    "privasi.web.retention_pages",
    "privasi.web.breach_pages",
    "privasi.web.admin",
    "privasi.web.governance",
]


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_safe()
    database = db or Database(settings.db_url)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if settings.worker_in_process:
            thread = threading.Thread(
                target=worker.run_forever,
                args=(database, settings.worker_interval_seconds, stop),
                name="privasi-worker",
                daemon=True,
            )
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
            app.state.vault.close()
            if db is None:
                database.dispose()

    app = FastAPI(
        title="privasi",
        version=privasi.__version__,
        description="A privacy policy that runs: consent, rights requests, retention, "
        "minimisation before AI, breach clocks, and an audit trail over all of it.",
        debug=settings.debug,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.metrics = metrics
    _attach_services(app, settings, database)
    problems.install(app)
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)

    for module_name in ROUTERS:
        module = import_if_present(module_name)
        if module is not None:
            app.include_router(module.router)
    _mount_static(app)
    _operational_routes(app, database, metrics)
    return app


def _attach_services(app: FastAPI, settings: Settings, database: Database) -> None:
    """Long-lived service objects the routers reach through ``ctx.state(name)``."""
    from privasi.notify import service as notify
    from privasi.vault.service import Vault

    app.state.vault = Vault.from_settings(settings, database)
    notify.configure(database, settings)
    # The API treats a system as automatic when the worker can run it, so the executors and job
    # handlers are registered in every process, not only in the worker.
    worker.load_handlers()


def _mount_static(app: FastAPI) -> None:
    try:
        from privasi.web import STATIC_DIR
    except ImportError:
        return
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _operational_routes(app: FastAPI, database: Database, metrics: Metrics) -> None:
    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": privasi.__version__}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        """Readiness: the database answers and its schema is at the code's migration head."""
        checks: dict[str, str] = {}
        try:
            with database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            revision = current_revision(database.url)
            checks["schema"] = "ok" if revision == head_revision() else "needs `privasi db upgrade`"
        except Exception as exc:
            checks["database"] = type(exc).__name__
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics_endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            generate_latest(metrics.registry).decode(), media_type=CONTENT_TYPE_LATEST
        )
