"""Older policy documents are upgraded one schema version at a time."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from privasi.policy import CURRENT_SCHEMA_VERSION, PolicyError, parse_policy, upgrade

from .helpers import POLICIES


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    # A made-up step: version 2 renamed `organisation.brand` to `organisation.trading_name`.
    org = dict(doc["organisation"])
    org["trading_name"] = org.pop("brand")
    return {**doc, "organisation": org}


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "notes": "added in 3"}


def test_steps_run_in_order_up_to_the_target() -> None:
    raw = yaml.safe_load((POLICIES / "minimal.yaml").read_text("utf-8"))
    out = upgrade(raw, steps={1: _v1_to_v2, 2: _v2_to_v3}, target=3)
    assert out["schema_version"] == 3
    assert out["organisation"]["trading_name"] == "Kopi Contoh"
    assert "brand" not in out["organisation"]
    assert out["notes"] == "added in 3"
    assert raw["organisation"]["brand"] == "Kopi Contoh"  # the input is not modified


def test_current_version_is_unchanged() -> None:
    raw = {"schema_version": CURRENT_SCHEMA_VERSION, "x": 1}
    assert upgrade(raw) == raw


def test_missing_step_and_future_version_are_errors() -> None:
    with pytest.raises(ValueError, match="no upgrade step from schema_version 2"):
        upgrade({"schema_version": 2}, steps={1: _v1_to_v2}, target=3)
    with pytest.raises(ValueError, match="newer than this privasi understands"):
        upgrade({"schema_version": CURRENT_SCHEMA_VERSION + 1})


def test_loading_a_future_version_points_at_schema_version() -> None:
    text = (
        (POLICIES / "minimal.yaml")
        .read_text("utf-8")
        .replace("schema_version: 1", "schema_version: 99")
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "future.yaml")
    (problem,) = info.value.problems
    assert problem.path == "schema_version"
    assert problem.line == 2
