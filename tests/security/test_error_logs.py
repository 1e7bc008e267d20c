"""An unexpected error is logged with the route template, never the raw path: paths carry bearer
tokens (``/downloads/{token}``, a requester's status page) that would then sit in the logs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.testclient import TestClient

TOKEN = "dl_s3cr3t-token-that-opens-an-export"


def test_an_unhandled_error_logs_the_route_not_the_token(app: Any, caplog: Any) -> None:
    def explode(token: str) -> None:
        raise RuntimeError("boom")

    app.add_api_route("/downloads-test/{token}", explode)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        answer = client.get(f"/downloads-test/{TOKEN}")
        missing = client.get(f"/no-such-route/{TOKEN}")
    assert answer.status_code == 500
    assert answer.json()["type"] == "urn:privasi:problem:internal-error"
    assert missing.status_code == 404
    records = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert [getattr(r, "path", None) for r in records] == ["/downloads-test/{token}"]
    # The server's own records (httpx, the test client, logs the URL it asked for).
    for record in caplog.records:
        if record.name.startswith("privasi"):
            assert TOKEN not in str(record.__dict__), record.getMessage()
