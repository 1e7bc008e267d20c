"""One catalogue of interface strings, in Bahasa Indonesia and English.

Strings live in ``catalogue/<lang>.yaml`` (and per-feature ``catalogue/<area>.<lang>.yaml``) with
nested keys (``admin.login.title``). A page asks
for a key with ``t(key, lang, **params)``; templates call ``_('key')``. Later features add their
keys to the same two files, and ``tests/web/test_i18n.py`` fails on a key missing in either
language or used but never written.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request

log = logging.getLogger("privasi.web")

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANG_COOKIE = "privasi_lang"
LANG_PARAM = "lang"
CATALOGUE_DIR = Path(__file__).parent / "catalogue"

# Keys are dotted lower-case words; anything else in a template call is a mistake worth flagging.
KEY_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        elif isinstance(value, str):
            flat[key] = value
        else:
            raise ValueError(f"catalogue entry {key!r} must be text or a nested mapping")
    return flat


def _read_tree(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        tree = yaml.safe_load(handle) or {}
    if not isinstance(tree, dict):
        raise ValueError(f"{path.name} must hold a mapping")
    return tree


def load_catalogue(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    """Every language's strings as flat ``key -> text`` mappings.

    ``<lang>.yaml`` holds the common strings; a feature may keep its own in ``<area>.<lang>.yaml``
    so that features written side by side do not edit the same file. A key written twice is an
    error rather than a silent override.
    """
    result: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        flat = _flatten(_read_tree(directory / f"{lang}.yaml"))
        for path in sorted(directory.glob(f"*.{lang}.yaml")):
            extra = _flatten(_read_tree(path))
            twice = sorted(set(extra) & set(flat))
            if twice:
                raise ValueError(f"{path.name} repeats catalogue keys: {', '.join(twice)}")
            flat.update(extra)
        result[lang] = flat
    return result


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    return load_catalogue()


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER_RE.findall(text))


def t(key: str, lang: str, **params: Any) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` placeholders filled from ``params``.

    An unknown key shows the key itself rather than failing the page; the catalogue test is what
    keeps that from reaching users.
    """
    strings = catalogue().get(lang) or catalogue()[DEFAULT_LANGUAGE]
    text = strings.get(key)
    if text is None:
        log.warning("missing translation key", extra={"key": key, "lang": lang})
        return key
    if not params:
        return text
    return _PLACEHOLDER_RE.sub(
        lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text
    )


def parse_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most, by q-value then order."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        # "in" is the old ISO 639 code for Indonesian, still sent by some Android browsers.
        if primary == "in":
            primary = "id"
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, index, primary))
    return min(choices)[2] if choices else None


def request_language(request: Request) -> tuple[str, bool]:
    """The page language and whether it was chosen now (``?lang=``) and should be remembered."""
    asked = request.query_params.get(LANG_PARAM, "").lower()
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered, False
    return parse_accept_language(request.headers.get("accept-language")) or DEFAULT_LANGUAGE, False
