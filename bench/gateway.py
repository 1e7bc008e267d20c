"""Benchmark of the LLM privacy gateway: added latency and CPU per call against the provider direct.

    python bench/gateway.py                      # SQLite in a temporary directory, 10 s per rate
    python bench/gateway.py --seconds 5          # a quicker run
    python bench/gateway.py --database-url postgresql://...   # an empty PostgreSQL database

Three processes: the gateway (uvicorn, one worker, the worker loop off) pinned to core 0 with
``taskset``; the fake provider (tests/gateway/fake_upstream.py, which echoes the user's message, so
placeholders come back and are restored) and this load generator pinned to core 1. The same 2 KB
chat request (a system prompt, a user message with a name, an e-mail address and a phone number)
is sent open-loop at a fixed rate from 16 concurrent clients: request i is due at t0 + i/rate, and
its latency counts from when it was due, so a slow server cannot hide its queue. Each rate is
measured twice in the same run: against the provider directly, then through the gateway. Every
call through the gateway is a new conversation: detection, a sealed mapping written, the audit
event and the chat log (the Digimetalab policy keeps them) each in the database.
Reported: p50/p99 added latency (gateway minus direct at the same rate), the gateway process's CPU
time per call (from /proc), and the highest rate whose p99 stays under twice the p99 at 50/s.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import importlib.util
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
MESSAGE = (
    "Halo, nama saya Budi Santoso dan saya ingin bertanya tentang paket otomasi WhatsApp untuk "
    "toko saya. Email saya budi.santoso@contoh.co.id dan nomor WA 0812-3456-7890. "
)
SYSTEM = (
    "Kamu adalah asisten layanan pelanggan Digimetalab. Jawab dengan sopan dalam bahasa yang "
    "dipakai pelanggan, ringkas, dan jangan pernah menjanjikan harga tanpa konfirmasi tim. "
)


def chat_body(i: int = 0) -> bytes:
    # the system prompt is the same on every call (as a chat widget's is); the user's message
    # differs on each, so no call's whole text was seen before
    body = {
        "model": "llama-3.1-8b-instant",
        "messages": [
            {"role": "system", "content": SYSTEM * 7},
            {"role": "user", "content": f"Pesanan {i:07d}. " + MESSAGE * 5},
        ],
    }
    return json.dumps(body).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("a benchmark process exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _settings(data: Path, database_url: str | None) -> Any:
    from privasi.config import Settings

    key_file = data / "bench.master"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    return Settings(
        _env_file=None,
        env="test",
        data_dir=data / "var",
        database_url=database_url or f"sqlite:///{data / 'privasi.sqlite'}",
        keystore_url=f"sqlite:///{data / 'keys.sqlite'}",
        master_key=key_file.read_text(),
        secret_key="bench-secret-key-" + "b" * 32,
        worker_in_process=False,
        log_level="WARNING",
        gateway_rate_limit_per_minute=10_000_000,
    )


def setup(data: Path, database_url: str | None, upstream_url: str) -> str:
    """An organisation with the Digimetalab policy, a gateway key and the fake provider."""
    import yaml

    from privasi.db import Database
    from privasi.gateway import service as gateway
    from privasi.migrate import upgrade
    from privasi.orgs import service as orgs
    from privasi.policy import service as policies
    from privasi.vault.service import Vault

    settings = _settings(data, database_url)
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    vault = Vault.from_settings(settings, db)
    with db.session(system=True) as s:
        org = orgs.create_org(s, "bench", "Bench")
    doc = yaml.safe_load((ROOT / "examples" / "digimetalab.yaml").read_text())
    doc["organisation"]["slug"] = "bench"
    doc["effective_date"] = "2026-01-01"
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    principal = orgs.system_principal(org.id)
    policies.load_and_publish(db, org.id, principal, source, "digimetalab.yaml")
    with db.session(org.id) as s:
        _, token = orgs.create_api_key(s, name="bench", scopes=["gateway.use"])
        gateway.configure(
            s, principal, base_url=upstream_url, api_key="sk-fake", recipient_id="groq"
        )
    vault.close()
    db.dispose()
    return token


def serve_gateway(data: Path, database_url: str | None, port: int, freeze: bool) -> None:
    import logging

    from privasi.app import create_app
    from privasi.cli import run_app

    logging.disable(logging.INFO)
    settings = _settings(data, database_url).model_copy(update={"host": "127.0.0.1", "port": port})
    # As `privasi serve` serves it (gc.freeze() after start-up unless --no-gc-freeze).
    run_app(create_app(settings), settings, freeze=freeze)


def serve_upstream(port: int, delay_ms: float) -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from tests.gateway.fake_upstream import FakeUpstream

    fake = FakeUpstream()
    fake.delay = delay_ms / 1000

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await fake.app(scope, receive, send)
        if len(fake.requests) > 1000:  # keep memory flat over long runs
            fake.requests.clear()
            fake.headers.clear()

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop load: request i is due at t0 + i/rate, spread over 16 clients."""
    total = int(rate * seconds)
    bodies = [chat_body(i) for i in range(total)]
    latencies: list[float] = []
    errors = 0
    start = 0.0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)

    async def client(http: httpx.AsyncClient, k: int) -> None:
        tasks = []
        for i in range(k, total, CLIENTS):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http, due, bodies[i])))
        await asyncio.gather(*tasks)

    async def one(http: httpx.AsyncClient, due: float, body: bytes) -> None:
        nonlocal errors
        try:
            r = await http.post(url + "/chat/completions", content=body, headers=headers)
            ok = r.status_code == 200 and "Budi Santoso" in r.text
            kind = f"HTTP {r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            ok, kind = False, type(exc).__name__
        if ok:
            latencies.append(time.perf_counter() - due)
        else:
            errors += 1
            print(f"error at {rate:g}/s: {kind}", file=sys.stderr)

    # The clients are built and their connections opened before the clock starts: building an
    # httpx client (its TLS context) takes 5-20 ms of CPU, and building 16 of them inside the
    # measured window made the first 5-8 requests of every run 20-150 ms late on both paths,
    # which alone was the p99 of a 250-500 call run.
    https = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(CLIENTS)]
    try:
        warm = chat_body(-1)
        await asyncio.gather(
            *(h.post(url + "/chat/completions", content=warm, headers=headers) for h in https)
        )
        # the load generator's own collector pauses would land on both paths' tails alike
        gc.collect()
        gc.freeze()
        gc.disable()
        start = time.perf_counter() + 0.1
        await asyncio.gather(*(client(https[k], k) for k in range(CLIENTS)))
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
        gc.unfreeze()
        for h in https:
            await h.aclose()
    latencies.sort()
    return {
        "rate": rate,
        "sent": total,
        "errors": errors,
        "achieved": len(latencies) / elapsed if elapsed > 0 else 0,
        "p50": _pct(latencies, 50),
        "p99": _pct(latencies, 99),
    }


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values)) - 1))
    return values[index] * 1000


def measure(
    gw: str, direct: str, token: str, pid: int, rate: float, seconds: float
) -> dict[str, Any]:
    base = asyncio.run(load(direct, "sk-fake", rate, seconds))
    before = cpu_seconds(pid)
    through = asyncio.run(load(gw, token, rate, seconds))
    used = cpu_seconds(pid) - before
    calls = through["sent"] - through["errors"]
    return {
        "rate": rate,
        "direct_p50": base["p50"],
        "direct_p99": base["p99"],
        "gw_p50": through["p50"],
        "gw_p99": through["p99"],
        "added_p50": through["p50"] - base["p50"],
        "added_p99": through["p99"] - base["p99"],
        "cpu_ms_per_call": used / max(1, calls) * 1000,
        "errors": through["errors"] + base["errors"],
        "achieved": through["achieved"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of load per rate")
    ap.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    ap.add_argument("--rates", default="50,200", help="the reported rates")
    ap.add_argument("--max-rates", default="100,150,250,300,400,500,700", help="the search")
    ap.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="serve the gateway without gc.freeze() after start-up (privasi serve freezes)",
    )
    ap.add_argument(
        "--provider-ms",
        type=float,
        default=0.0,
        help="the fake provider waits this long before answering (a real model takes 100s of ms)",
    )
    ap.add_argument("--serve-gateway", nargs=2, metavar=("DATA", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--serve-upstream", metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_gateway:
        serve_gateway(
            Path(args.serve_gateway[0]),
            args.database_url,
            int(args.serve_gateway[1]),
            freeze=not args.no_gc_freeze,
        )
        return 0
    if args.serve_upstream:
        serve_upstream(int(args.serve_upstream), args.provider_ms)
        return 0

    os.sched_setaffinity(0, {1})
    load_before = os.getloadavg()
    python = sys.executable
    me = str(Path(__file__).resolve())
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="privasi-bench-gw-") as tmp:
        data = Path(tmp)
        try:
            up_port, gw_port = free_port(), free_port()
            upstream = subprocess.Popen(
                [
                    *["taskset", "-c", "1", python, me],
                    *["--provider-ms", str(args.provider_ms), "--serve-upstream", str(up_port)],
                ]
            )
            procs.append(upstream)
            wait_port(up_port, upstream)
            direct = f"http://127.0.0.1:{up_port}/v1"
            token = setup(data, args.database_url, direct)
            extra = ["--database-url", args.database_url] if args.database_url else []
            extra += ["--no-gc-freeze"] if args.no_gc_freeze else []
            gateway = subprocess.Popen(
                ["taskset", "-c", "0", python, me, *extra, "--serve-gateway", tmp, str(gw_port)]
            )
            procs.append(gateway)
            wait_port(gw_port, gateway)
            gw = f"http://127.0.0.1:{gw_port}/v1"
            asyncio.run(load(gw, token, 20, 2))  # warm-up: detector, keys, connections
            results = {}
            for rate in [float(r) for r in args.rates.split(",")]:
                results[rate] = measure(gw, direct, token, gateway.pid, rate, args.seconds)
            baseline = results.get(50.0) or measure(
                gw, direct, token, gateway.pid, 50, args.seconds
            )
            sustained = 50.0
            for rate in sorted({*results, *(float(r) for r in args.max_rates.split(","))}):
                if rate <= 50:
                    continue
                row = results.get(rate) or measure(
                    gw, direct, token, gateway.pid, rate, args.seconds
                )
                results[rate] = row
                keeps_up = row["achieved"] >= 0.95 * rate and row["errors"] == 0
                if row["gw_p99"] <= 2 * baseline["gw_p99"] and keeps_up:
                    sustained = rate
                else:
                    break
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)
    load_after = os.getloadavg()
    # uvicorn's defaults pick these when installed, as in `privasi serve`
    fast = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m) is not None]
    print(
        f"\nLLM gateway, {len(chat_body())} byte request, {CLIENTS} clients, open loop, "
        f"{args.seconds:g} s per rate; Python {platform.python_version()}; "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}; "
        f"provider answers after {args.provider_ms:g} ms; "
        f"gateway {'without' if args.no_gc_freeze else 'with'} gc.freeze(), uvicorn with "
        f"{' and '.join(fast) or 'h11 and asyncio'}; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} after"
    )
    print(
        "| rate/s | direct p50 ms | direct p99 ms | gateway p50 ms | gateway p99 ms | "
        "added p50 ms | added p99 ms | gateway CPU ms/call | errors |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rate in sorted(results):
        r = results[rate]
        print(
            f"| {rate:g} | {r['direct_p50']:.2f} | {r['direct_p99']:.2f} | {r['gw_p50']:.2f} | "
            f"{r['gw_p99']:.2f} | {r['added_p50']:.2f} | {r['added_p99']:.2f} | "
            f"{r['cpu_ms_per_call']:.2f} | {r['errors']} |"
        )
    print(f"\nhighest rate sustained before the gateway's p99 doubles (vs 50/s): {sustained:g}/s")
    print(
        f"median added p50 over rates: "
        f"{statistics.median(r['added_p50'] for r in results.values()):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
