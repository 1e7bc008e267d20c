"""The ``privasi policy`` commands, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from privasi.policy.cli import app

from .helpers import EXAMPLES, POLICIES

runner = CliRunner()


def _line(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def test_check_passes_every_example() -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))
    result = runner.invoke(app, ["check", *files])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == 5


def test_check_fails_with_located_errors() -> None:
    good, bad = POLICIES / "minimal.yaml", POLICIES / "bad_unknown_category.yaml"
    result = runner.invoke(app, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert "ok " in result.stdout
    line = _line(bad, "loyalty_points")
    assert f"bad_unknown_category.yaml:{line}: purposes[1].categories[1]" in result.stderr


def test_render_to_file(tmp_path: Path) -> None:
    out = tmp_path / "notice.md"
    result = runner.invoke(
        app,
        ["render", str(EXAMPLES / "digimetalab.yaml"), "--lang", "id", "--format", "md",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8").startswith("# Kebijakan Privasi Digimetalab")


def test_render_html_to_stdout() -> None:
    result = runner.invoke(app, ["render", str(EXAMPLES / "tekino.yaml"), "--lang", "en"])
    assert result.exit_code == 0
    assert "<h1>Tek Ino Privacy Notice</h1>" in result.stdout


def test_render_rejects_unknown_language() -> None:
    result = runner.invoke(app, ["render", str(EXAMPLES / "crm.yaml"), "--lang", "fr"])
    assert result.exit_code == 2


def test_ropa_csv() -> None:
    result = runner.invoke(app, ["ropa", str(EXAMPLES / "aspire.yaml"), "--format", "csv"])
    assert result.exit_code == 0
    assert result.stdout.startswith("purpose_id,purpose,processing_role,legal_basis")


def test_diff_exit_codes(tmp_path: Path) -> None:
    base = (POLICIES / "minimal.yaml").read_text("utf-8")
    minimal = str(POLICIES / "minimal.yaml")
    same = runner.invoke(app, ["diff", minimal, minimal])
    assert same.exit_code == 0 and "No changes" in same.stdout

    wording = tmp_path / "wording.yaml"
    wording.write_text(base.replace("To process your orders.", "To handle your orders."))
    minor = runner.invoke(app, ["diff", str(POLICIES / "minimal.yaml"), str(wording)])
    assert minor.exit_code == 0 and "none material" in minor.stdout

    longer = tmp_path / "longer.yaml"
    longer.write_text(base.replace("period: P2Y", "period: P5Y"))
    material = runner.invoke(app, ["diff", str(POLICIES / "minimal.yaml"), str(longer), "--json"])
    assert material.exit_code == 2
    body = json.loads(material.stdout)
    assert body["material"] is True
    assert body["changes"][0]["path"] == "retention.rules.orders.period"


def test_diff_with_invalid_file() -> None:
    result = runner.invoke(
        app, ["diff", str(POLICIES / "minimal.yaml"), str(POLICIES / "bad_period.yaml")]
    )
    assert result.exit_code == 1
    line = _line(POLICIES / "bad_period.yaml", "two years")
    assert f"bad_period.yaml:{line}: retention.rules[0].period" in result.stderr


def test_schema_is_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    assert "organisation" in schema["properties"]
