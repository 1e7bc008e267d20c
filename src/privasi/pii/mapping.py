"""Pseudonym mappings: the same value gets the same placeholder across a conversation."""

from __future__ import annotations

import re
import threading
from typing import Protocol

PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]{1,30})_(\d{1,6})>")
# what a language model may turn a placeholder into: other brackets, or none at all
_LOOSE_RE = re.compile(r"[<\[{]?\b([A-Z][A-Z_]{1,30})_(\d{1,6})\b[>\]}]?")
_SPACE = re.compile(r"\s+")
_NUMERIC_TYPES = frozenset(
    {"PHONE_NUMBER", "ID_NIK", "ID_NPWP", "ID_KK", "CREDIT_CARD", "BANK_ACCOUNT"}
)


def normalise(entity_type: str, value: str) -> str:
    """The key under which two writings of one value meet: a phone written with or
    without dashes, or a name in different case, is one person."""
    if entity_type in _NUMERIC_TYPES:
        digits = re.sub(r"\D", "", value)
        if entity_type == "PHONE_NUMBER" and digits.startswith("62"):
            digits = "0" + digits[2:]
        return digits or value
    return _SPACE.sub(" ", value.strip()).casefold()


class MappingStore(Protocol):
    """Where placeholders live. The default keeps them in memory; the gateway plugs in
    an encrypted database store with the same two methods."""

    def placeholder_for(self, conversation: str, entity_type: str, value: str) -> str:
        """Return the placeholder for this value, creating the next one if new."""
        ...

    def value_for(self, conversation: str, placeholder: str) -> str | None:
        """Return the original value behind a placeholder, or None if unknown."""
        ...


class InMemoryMappingStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str, str], str] = {}
        self._by_placeholder: dict[tuple[str, str], str] = {}
        self._counters: dict[tuple[str, str], int] = {}

    def placeholder_for(self, conversation: str, entity_type: str, value: str) -> str:
        key = (conversation, entity_type, normalise(entity_type, value))
        with self._lock:
            existing = self._by_key.get(key)
            if existing is not None:
                return existing
            n = self._counters.get((conversation, entity_type), 0) + 1
            self._counters[(conversation, entity_type)] = n
            placeholder = f"<{entity_type}_{n}>"
            self._by_key[key] = placeholder
            self._by_placeholder[(conversation, placeholder)] = value
            return placeholder

    def value_for(self, conversation: str, placeholder: str) -> str | None:
        with self._lock:
            return self._by_placeholder.get((conversation, placeholder))

    def forget(self, conversation: str) -> None:
        """Drop a conversation's mapping (when the conversation's retention ends)."""
        with self._lock:
            self._by_key = {k: v for k, v in self._by_key.items() if k[0] != conversation}
            self._by_placeholder = {
                k: v for k, v in self._by_placeholder.items() if k[0] != conversation
            }
            self._counters = {k: v for k, v in self._counters.items() if k[0] != conversation}

    def __repr__(self) -> str:
        return f"InMemoryMappingStore(conversations={len({k[0] for k in self._counters})})"


def restore(text: str, store: MappingStore, conversation: str) -> str:
    """Put the original values back in place of placeholders this conversation created,
    also when a model wrote them as [PERSON_1] or PERSON_1. Unknown ones stay as they are."""

    def sub(m: re.Match[str]) -> str:
        value = store.value_for(conversation, f"<{m.group(1)}_{m.group(2)}>")
        return m.group(0) if value is None else value

    return _LOOSE_RE.sub(sub, text)
