"""The name gazetteer and the list of capitalised non-names, loaded once."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


def _words(filename: str) -> frozenset[str]:
    text = resources.files("privasi.pii").joinpath(f"data/{filename}").read_text("utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        words.update(w.lower() for w in line.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    return _words("names.txt")


@lru_cache(maxsize=1)
def places() -> frozenset[str]:
    return _words("places.txt")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Words that end or rule out a name: common words, roles, brands and places."""
    return _words("stopwords.txt") | places()


def is_given_name(token: str) -> bool:
    return token.lower() in given_names()


def is_stopword(token: str) -> bool:
    return token.lower() in stopwords()
