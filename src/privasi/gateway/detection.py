"""Detection with a memory of texts already checked.

A chat client sends the whole conversation on every turn, and every call of one widget carries the
same system prompt, so most of a request's text was checked moments ago. The detector is
deterministic for a text, so its findings (offsets and types, never values) are kept per process
under a keyed digest of the text: the text itself is not kept, and without the per-process key the
digests cannot be matched against guessed texts. Each organisation has its own entries, so how
fast a text is checked tells nothing about what another organisation sent.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Protocol

from privasi.pii import Detector, Finding

# Below this length detection costs about what the digest does, and a short text (a lone name or
# number) is the kind whose digest is worth guessing at: those are always detected afresh.
MIN_CACHED_CHARS = 64
CACHE_ENTRIES = 2048


class Detects(Protocol):
    def detect(self, text: str) -> list[Finding]: ...


class CachedDetector:
    """``detect`` of the wrapped detector, remembered for the last ``size`` long texts."""

    def __init__(self, detector: Detector, size: int = CACHE_ENTRIES) -> None:
        self._detector = detector
        self._size = size
        self._key = os.urandom(32)
        self._found: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def _digest(self, scope: str, text: str) -> bytes:
        digest = hashlib.blake2b(key=self._key, digest_size=32)
        digest.update(scope.encode() + b"\x00")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.digest()

    def scoped(self, scope: str) -> ScopedDetector:
        """The detector as one organisation uses it: its own entries in the memory."""
        return ScopedDetector(self, scope)

    def detect(self, text: str, scope: str = "") -> list[Finding]:
        if len(text) < MIN_CACHED_CHARS:
            return self._detector.detect(text)
        digest = self._digest(scope, text)
        with self._lock:
            found = self._found.get(digest)
            if found is not None:
                self._found.move_to_end(digest)
                self.hits += 1
                return list(found)
        fresh = self._detector.detect(text)
        with self._lock:
            self._found[digest] = tuple(fresh)
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        return fresh


class ScopedDetector:
    def __init__(self, cached: CachedDetector, scope: str) -> None:
        self._cached = cached
        self._scope = scope

    def detect(self, text: str) -> list[Finding]:
        return self._cached.detect(text, self._scope)
