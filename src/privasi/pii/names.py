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
    """Given names and nicknames: a capitalised one starts a name."""
    return _words("names.txt") | _words("names-more.txt")


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Family names that do not start a name on their own but continue one."""
    return _words("surnames.txt")


@lru_cache(maxsize=1)
def known_names() -> frozenset[str]:
    """Every word the gazetteer knows as part of a name, given or family."""
    return given_names() | surnames()


@lru_cache(maxsize=1)
def ambiguous_names() -> frozenset[str]:
    """Given names that are also everyday words ("indah", "Grace"): they need a cue."""
    return _words("ambiguous.txt")


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Everyday words, brands and places that are never a name on their own."""
    return _words("common.txt") - known_names()


@lru_cache(maxsize=1)
def never_names() -> frozenset[str]:
    """Stopwords and everyday words together: a capitalised word in here is no name."""
    return stopwords() | common_words()


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
