"""`privasi serve` hands uvicorn the proxy settings: behind a TLS proxy the client's address and
scheme come from X-Forwarded-* headers, from the trusted addresses only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import MASTER_KEY
from typer.testing import CliRunner

from privasi.cli import app


def test_serve_trusts_forwarded_headers_only_from_the_configured_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: seen.update(kw))
    env = {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(tmp_path / "var"),
        "PRIVASI_MASTER_KEY": MASTER_KEY,
        "PRIVASI_SECRET_KEY": "k" * 40,
        "PRIVASI_FORWARDED_ALLOW_IPS": "10.0.0.2",
        "PRIVASI_WORKER_IN_PROCESS": "false",
    }
    import gc

    try:
        done = CliRunner().invoke(app, ["serve", "--init"], env=env)
    finally:
        gc.unfreeze()  # serve freezes what exists at start-up: here, the test run's objects
    assert done.exit_code == 0, done.output
    assert seen["proxy_headers"] is True
    assert seen["forwarded_allow_ips"] == "10.0.0.2"
