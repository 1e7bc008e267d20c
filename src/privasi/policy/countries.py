"""Country codes the policy may name, with their names in each notice language."""

from __future__ import annotations

from importlib import resources

import yaml


def _load() -> dict[str, dict[str, str]]:
    text = resources.files("privasi.policy").joinpath("catalog/countries.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    # YAML 1.1 reads the bare key NO (Norway) as False; keep the code as written.
    return {("NO" if k is False else str(k)): v for k, v in data.items()}


COUNTRIES: dict[str, dict[str, str]] = _load()


def country_name(code: str, lang: str, in_sentence: bool = False) -> str:
    """``in_sentence`` gives the form used inside running text ("in the United States")."""
    names = COUNTRIES[code]
    if in_sentence and f"{lang}_in_sentence" in names:
        return names[f"{lang}_in_sentence"]
    return names[lang]
