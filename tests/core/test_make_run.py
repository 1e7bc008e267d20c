"""`make run`, exactly as the README says, twice: the second run reuses keys and data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_once(env: dict[str, str], port: int) -> str:
    proc = subprocess.Popen(
        ["make", "-s", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    assert ready.status_code == 200, ready.text
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("make run did not answer /healthz in time")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0]
    assert proc.returncode is not None
    return output


@pytest.mark.slow
def test_make_run_twice_reuses_everything(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVASI_")} | {
        "PRIVASI_DATA_DIR": str(tmp_path / "var"),
        "PRIVASI_PORT": str(port),
    }
    first = _run_once(env, port)
    assert f"http://127.0.0.1:{port}/admin" in first
    assert f"http://127.0.0.1:{port}/docs" in first
    assert f"http://127.0.0.1:{port}/privacy/digimetalab" in first
    password = re.search(r"one-time password: (\S+)", first)
    assert password, first
    secret = (tmp_path / "var" / "secret.key").read_text()
    db_file = tmp_path / "var" / "privasi.sqlite"
    assert db_file.exists()

    second = _run_once(env, port)
    assert (tmp_path / "var" / "secret.key").read_text() == secret
    again = re.search(r"one-time password: (\S+)", second)
    assert again and again.group(1) == password.group(1), second
