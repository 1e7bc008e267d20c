"""Paths and cached renderings shared by the policy tests (rendering is the slow part)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from privasi.policy import Policy, load_policy, render_notice

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
POLICIES = DATA / "policies"
SEEDS = DATA / "seeds"


@cache
def example(name: str) -> Policy:
    return load_policy(EXAMPLES / f"{name}.yaml")


@cache
def rendered(name: str, lang: str, fmt: str) -> str:
    return render_notice(example(name), lang, fmt)
