"""The README documents every setting and every permission the code has."""

from __future__ import annotations

from pathlib import Path

from privasi.config import Settings
from privasi.orgs.permissions import ALL_PERMISSIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [
        r["env"] for r in Settings(_env_file=None).describe() if f"`{r['env']}`" not in README
    ]
    assert missing == []


def test_every_permission_is_documented():
    assert [p for p in sorted(ALL_PERMISSIONS) if f"`{p}`" not in README] == []


def test_readme_commands_exist():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci
