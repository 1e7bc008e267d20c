"""The string catalogue: complete in both languages, and every key the pages use is written."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from privasi.orgs.models import StaffRole
from privasi.web import TEMPLATES_DIR, WEB_DIR
from privasi.web.i18n import (
    KEY_RE,
    LANGUAGES,
    catalogue,
    parse_accept_language,
    placeholders,
    t,
)

# `_('key')`, `t('key')` and `_("key", name=...)` in templates.
TEMPLATE_CALL_RE = re.compile(r"""(?<![\w.])(?:_|t)\(\s*(['"])([^'"]+)\1""")


def _template_keys() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        for match in TEMPLATE_CALL_RE.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(2), set()).add(str(path.relative_to(TEMPLATES_DIR)))
    return used


def _python_keys() -> dict[str, set[str]]:
    """String constants in the web package that look like catalogue keys (flash and error keys)."""
    namespaces = {key.split(".", 1)[0] for key in catalogue()["en"]}
    used: dict[str, set[str]] = {}
    for path in sorted(WEB_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and KEY_RE.match(node.value)
                and node.value.split(".", 1)[0] in namespaces
            ):
                used.setdefault(node.value, set()).add(path.name)
    return used


def test_both_languages_have_the_same_keys() -> None:
    strings = catalogue()
    for lang in LANGUAGES:
        for other in LANGUAGES:
            missing = sorted(set(strings[other]) - set(strings[lang]))
            assert not missing, f"missing in {lang}.yaml: {missing}"


def test_translations_use_the_same_placeholders_and_are_not_empty() -> None:
    strings = catalogue()
    for key, english in strings["en"].items():
        for lang in LANGUAGES:
            assert strings[lang][key].strip(), f"{lang}: {key} is empty"
            assert placeholders(strings[lang][key]) == placeholders(english), key


def test_every_key_used_in_a_template_exists() -> None:
    used = _template_keys()
    assert len(used) > 40  # the scan really finds the calls
    strings = catalogue()
    missing = {key: files for key, files in used.items() if key not in strings["en"]}
    assert not missing, f"keys used in templates but not in the catalogue: {missing}"


def test_every_key_named_in_the_page_code_exists() -> None:
    used = _python_keys()
    assert "admin.login.failed" in used and "admin.logout.done" in used
    missing = {key: files for key, files in used.items() if key not in catalogue()["en"]}
    assert not missing, f"keys used in code but not in the catalogue: {missing}"


def test_the_key_scan_catches_a_missing_key(tmp_path: Path) -> None:
    """The checks above would notice a typo: prove the scanner sees a made-up key."""
    sample = "{{ _('admin.login.titel') }} {{ t(\"admin.home.title\", x=1) }} {{ foo_('no.key') }}"
    found = {m.group(2) for m in TEMPLATE_CALL_RE.finditer(sample)}
    assert found == {"admin.login.titel", "admin.home.title"}
    assert "admin.login.titel" not in catalogue()["en"]


def test_every_staff_role_has_a_name() -> None:
    for role in StaffRole:
        for lang in LANGUAGES:
            assert f"roles.{role.value}" in catalogue()[lang]


def test_t_fills_placeholders_and_falls_back_to_the_key() -> None:
    assert t("admin.switch.done", "en", org="Warung Kopi") == "You are now working in Warung Kopi."
    assert (
        t("admin.switch.done", "id", org="Warung Kopi") == "Sekarang Anda bekerja di Warung Kopi."
    )
    assert t("admin.nope.missing", "en") == "admin.nope.missing"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("fr-FR,en;q=0.5,id;q=0.7", "id"),
        ("in-ID", "id"),
        ("fr, de", None),
        ("en;q=0, id;q=0.1", "id"),
        ("", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert parse_accept_language(header) == expected


def test_language_defaults_to_indonesian(client: TestClient) -> None:
    page = client.get("/admin/login")
    assert '<html lang="id">' in page.text
    assert "Masuk staf" in page.text


def test_language_follows_the_browser(client: TestClient) -> None:
    page = client.get("/admin/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text
    assert "Staff sign-in" in page.text


def test_language_switch_is_remembered(client: TestClient, pages: Any, make_staff: Any) -> None:
    switched = client.get("/admin/login?lang=en", headers={"Accept-Language": "id"})
    assert "Staff sign-in" in switched.text
    assert "privasi_lang=en" in switched.headers["set-cookie"]
    # The switcher links back in both languages, each named in its own language.
    assert 'href="/admin/login?lang=id"' in switched.text and "Bahasa Indonesia" in switched.text

    later = client.get("/admin/login", headers={"Accept-Language": "id"})
    assert "Staff sign-in" in later.text
    failed = pages.login(make_staff("agent"), password="keliru-keliru-keliru")
    assert "The organisation, e-mail address or password is not correct." in failed.text

    back = client.get("/admin/login?lang=id")
    assert "Masuk staf" in back.text
    assert "Masuk staf" in client.get("/admin/login").text


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    page = client.get("/admin/login?lang=xx", headers={"Accept-Language": "en"})
    assert "Staff sign-in" in page.text
    assert "privasi_lang" not in page.headers.get("set-cookie", "")
