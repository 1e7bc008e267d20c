"""One pass over the lower-cased text finds every keyword of every recognizer.

Prefilter words and trigger keywords of all recognizers go into one Aho-Corasick
automaton (pyahocorasick, a C extension), so a message is scanned once, in linear time,
instead of once per recognizer by a regex alternation that CPython's `re` tries
alternative by alternative at every position."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")

# a keyword is a whole word: nothing of these before it, no letter after it
_WORD_BEFORE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_WORD_AFTER = frozenset("abcdefghijklmnopqrstuvwxyz")


class KeywordIndex(Generic[T]):
    """Substring prefilter words and whole-word trigger keywords, with their owners."""

    def __init__(self) -> None:
        self._triggers: dict[str, list[T]] = {}
        self._substrings: set[str] = set()
        self._whole: set[str] = set()
        self._automaton: ahocorasick.Automaton | None = None

    def add_substrings(self, words: Iterable[str]) -> None:
        self._substrings.update(words)

    def add_whole_words(self, words: Iterable[str]) -> None:
        self._whole.update(words)

    def add_trigger(self, word: str, owner: T) -> None:
        self._triggers.setdefault(word, []).append(owner)

    def build(self) -> None:
        words = self._substrings | self._whole | set(self._triggers)
        if not words:
            return
        automaton = ahocorasick.Automaton()
        for w in words:
            owners = tuple(self._triggers.get(w, ()))
            # a word needed whole goes into `present` only as a whole word, under a key
            # of its own so a substring prefilter of the same spelling stays separate
            whole = f"\0{w}" if w in self._whole else None
            automaton.add_word(w, (len(w) - 1, w, owners, whole, w in self._substrings))
        automaton.make_automaton()
        self._automaton = automaton

    def scan(self, lower: str) -> tuple[set[str], list[tuple[int, int, T]]]:
        """The prefilter words present (substrings as themselves, whole words with a
        leading NUL) and the whole-word trigger hits as (start, end, owner), in the
        order the automaton reports them."""
        present: set[str] = set()
        hits: list[tuple[int, int, T]] = []
        if self._automaton is None:
            return present, hits
        size = len(lower)
        for last, (span, word, owners, whole, substring) in self._automaton.iter(lower):
            if substring:
                present.add(word)
            if not (owners or whole):
                continue
            start = last - span
            if start > 0 and lower[start - 1] in _WORD_BEFORE:
                continue
            end = last + 1
            if end < size and lower[end] in _WORD_AFTER:
                continue
            if whole:
                present.add(whole)
            for owner in owners:
                hits.append((start, end, owner))
        return present, hits
