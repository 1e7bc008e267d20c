"""A conversation's placeholder mapping, and putting the values back into the provider's answer.

Restoring is forgiving about what language models do to placeholders: other brackets
(``[PERSON_1]``), none at all (``PERSON_1``), or another case (``<person_1>``). Only placeholders
of this conversation's own mapping are restored; anything else passes through as it came, so a
placeholder typed by a user or invented by the model never pulls a value from elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from privasi.pii.mapping import normalise

_LOOSE = re.compile(r"([<\[{]?)\b([A-Za-z][A-Za-z_]{1,30})_(\d{1,6})\b([>\]}]?)")
_OPENERS = "<[{"
_CLOSERS = ">]}"
# the longest text that could still grow into a placeholder: an opener, a 31-letter type, "_",
# six digits and a closer
_MAX_PENDING = 40


class ConversationMapping:
    """Placeholders of one conversation, both ways. Implements ``privasi.pii.MappingStore``."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})  # "<PERSON_1>" -> value
        self._keys: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self.changed = False
        for placeholder, value in self.values.items():
            kind, number = _split(placeholder)
            self._keys[(kind, normalise(kind, value))] = placeholder
            self._counters[kind] = max(self._counters.get(kind, 0), number)

    def placeholder_for(self, conversation: str, entity_type: str, value: str) -> str:
        key = (entity_type, normalise(entity_type, value))
        found = self._keys.get(key)
        if found is not None:
            return found
        number = self._counters.get(entity_type, 0) + 1
        self._counters[entity_type] = number
        placeholder = f"<{entity_type}_{number}>"
        self._keys[key] = placeholder
        self.values[placeholder] = value
        self.changed = True
        return placeholder

    def value_for(self, conversation: str, placeholder: str) -> str | None:
        return self.values.get(placeholder)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._counters)

    def to_json(self) -> bytes:
        return json.dumps(self.values, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ConversationMapping:
        loaded = json.loads(data)
        if not isinstance(loaded, dict):
            raise ValueError("a conversation mapping is a JSON object")
        return cls({str(k): str(v) for k, v in loaded.items()})

    # --- restoring ------------------------------------------------------------------------------

    def lookup(self, kind: str, number: str) -> str | None:
        return self.values.get(f"<{kind.upper()}_{int(number)}>")

    def restore(self, text: str, escape: Callable[[str], str] | None = None) -> str:
        """``text`` with this conversation's placeholders replaced by their values."""
        if not self.values or not text:
            return text

        def sub(m: re.Match[str]) -> str:
            value = self.lookup(m.group(2), m.group(3))
            if value is None:
                return m.group(0)
            # brackets right against the name are the placeholder's, even when the model
            # dropped or changed one of them
            return escape(value) if escape else value

        return _LOOSE.sub(sub, text)


def json_escape(value: str) -> str:
    """A value as it appears inside a JSON string literal (tool-call arguments are JSON text)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _split(placeholder: str) -> tuple[str, int]:
    inner = placeholder.strip("<>")
    kind, _, number = inner.rpartition("_")
    if not kind or not number.isdigit():
        raise ValueError("not a placeholder")
    return kind, int(number)


class StreamRestorer:
    """Restores placeholders in text that arrives in pieces (a streamed answer).

    Each piece is emitted at once except a tail that could still become a placeholder of this
    conversation (``<PERS`` or ``PERSON_1`` before the next digit or ``>``); that tail waits for the
    next piece, or for ``finish``. A tail that turns out not to be a placeholder is emitted as it
    was, so nothing is lost and nothing the mapping does not hold is ever added.
    """

    def __init__(
        self, mapping: ConversationMapping, escape: Callable[[str], str] | None = None
    ) -> None:
        self.mapping = mapping
        self.escape = escape
        self.pending = ""
        self._prefixes = _type_prefixes(mapping.types)

    def feed(self, piece: str) -> str:
        if not self._prefixes:
            return piece
        text = self.pending + piece
        cut = self._safe_cut(text)
        self.pending = text[cut:]
        return self.mapping.restore(text[:cut], self.escape)

    def finish(self) -> str:
        rest, self.pending = self.pending, ""
        return self.mapping.restore(rest, self.escape) if rest else ""

    def _safe_cut(self, text: str) -> int:
        """The earliest position from which the rest of ``text`` could still grow into a
        placeholder; ``len(text)`` when nothing needs holding back."""
        start = max(0, len(text) - _MAX_PENDING)
        for i in range(start, len(text)):
            ch = text[i]
            if ch in _OPENERS:
                if self._could_grow(text[i + 1 :], opened=True):
                    return i
            elif (
                ch.isalpha()
                and (i == 0 or not _is_word(text[i - 1]))
                and self._could_grow(text[i:], opened=False)
            ):
                return i
        return len(text)

    def _could_grow(self, tail: str, *, opened: bool) -> bool:
        upper = tail.upper()
        if upper in self._prefixes:
            return True  # "", "PER", "PERSON", "PERSON_"
        kind, sep, rest = upper.rpartition("_")
        if not sep or kind not in self.mapping.types:
            return False
        digits = rest.rstrip(_CLOSERS)
        if not digits.isdigit() or len(digits) > 6:
            return False
        # complete once a closer follows an opened placeholder; else more digits may come
        return rest == digits and (opened or len(digits) < 6)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _type_prefixes(types: frozenset[str]) -> frozenset[str]:
    out: set[str] = set()
    for kind in types:
        full = kind + "_"
        out.update(full[:n] for n in range(len(full) + 1))
    return frozenset(out)
