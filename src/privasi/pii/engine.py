"""The detector: runs the recognizers, applies context, resolves overlaps."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import address as _address  # noqa: F401  (registers the address recognizer)
from . import ner as _ner  # noqa: F401  (registers the optional NER backends)
from . import people as _people  # noqa: F401  (registers the lower-case name rules)
from .config import (
    CompiledPattern,
    CompiledRecognizer,
    RecognizerSpec,
    compile_recognizer,
    default_specs,
    load_recognizers,
)
from .functions import FUNCTIONS
from .keywords import KeywordIndex
from .language import detect_language
from .types import ALL_ENTITIES, Finding, Language, PiiInputError

_HAS_DIGIT = re.compile(r"\d")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_LONG_NUMBER = re.compile(r"\d(?:[ .\-]?\d){7}")
# the word after a keyword, past the separators the name patterns allow; bounded, or
# 100 KB without a space after each of many keywords would take quadratic time
_NEXT_WORD = re.compile(r"[\s!,:]{0,8}(\S{1,40})")

# When two readings cover the same characters with the same score, the more specific
# entity type wins: the last tie-breaker of the overlap rule.
ENTITY_PRIORITY: dict[str, int] = {
    "SECRET": 100,
    "URL": 95,
    "EMAIL_ADDRESS": 90,
    "ID_KK": 85,
    "ID_NPWP": 84,
    "ID_NIK": 80,
    "CREDIT_CARD": 75,
    "PASSPORT": 72,
    "IP_ADDRESS": 70,
    "PHONE_NUMBER": 65,
    "BANK_ACCOUNT": 60,
    "DATE_OF_BIRTH": 55,
    "ADDRESS": 50,
    "PERSON": 40,
}


def _leftmost_longest(
    hits: list[tuple[int, int, CompiledPattern]],
) -> list[tuple[int, int, CompiledPattern]]:
    """Keyword hits of one recognizer as a regex scan would take them: leftmost first,
    the longest keyword at a position ("nama saya" over "nama"), none overlapping."""
    hits.sort(key=lambda h: (h[0], h[0] - h[1]))
    out = []
    last_end = -1
    for h in hits:
        if h[0] >= last_end:
            out.append(h)
            last_end = h[1]
    return out


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """The "widest-then-score" rule: among overlapping findings keep the one covering
    more characters (hiding more never leaks more), then the higher score, then the
    more specific entity type. Kept findings never overlap; output is sorted by start."""
    ranked = sorted(
        findings,
        key=lambda f: (
            -(f.end - f.start),
            -f.score,
            -ENTITY_PRIORITY.get(f.entity_type, 0),
            f.start,
        ),
    )
    # kept spans are disjoint, so sorted by start they are also sorted by end and
    # one bisection finds the only neighbours that could overlap
    starts: list[int] = []
    kept: list[Finding] = []
    for f in ranked:
        i = bisect.bisect_right(starts, f.start)
        if i > 0 and kept[i - 1].end > f.start:
            continue
        if i < len(kept) and kept[i].start < f.end:
            continue
        starts.insert(i, f.start)
        kept.insert(i, f)
    return kept


@dataclass(frozen=True)
class AllowList:
    """Values an organisation publishes on purpose (its support number, its office
    address) that must never be reported. Matching ignores case and surrounding space."""

    values: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, values: Iterable[str] = (), patterns: Iterable[str] = ()) -> AllowList:
        return cls(
            frozenset(v.strip().casefold() for v in values if v.strip()),
            tuple(re.compile(p) for p in patterns),
        )

    def allows(self, value: str) -> bool:
        if value.strip().casefold() in self.values:
            return True
        return any(p.fullmatch(value) for p in self.patterns)


@dataclass
class Detector:
    """Detect personal data in text.

    `entities` limits the types reported; `threshold` is the minimum score;
    `allow_list` suppresses an organisation's own published values."""

    recognizers: Sequence[RecognizerSpec] | None = None
    entities: Iterable[str] | None = None
    threshold: float = 0.5
    allow_list: AllowList = field(default_factory=AllowList)
    _compiled: list[CompiledRecognizer] = field(init=False, repr=False)
    _entities: frozenset[str] = field(init=False, repr=False)
    _language_gated: bool = field(init=False, repr=False, default=False)
    _keywords: KeywordIndex[tuple[int, CompiledPattern]] = field(init=False, repr=False)
    _gate_chars: tuple[str, ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        specs = list(self.recognizers) if self.recognizers is not None else list(default_specs())
        self._entities = frozenset(self.entities) if self.entities is not None else ALL_ENTITIES
        unknown = self._entities - ALL_ENTITIES
        if unknown:
            raise ValueError(f"unknown entity types: {sorted(unknown)}")
        self._compiled = []
        for spec in specs:
            produced = {spec.entity.value} | {r.entity.value for r in spec.retype}
            if not produced & self._entities:
                continue
            compiled = compile_recognizer(spec)
            if spec.kind == "function":
                if spec.function not in FUNCTIONS:
                    raise KeyError(f"unknown function recognizer {spec.function!r}")
                compiled.function = FUNCTIONS[spec.function or ""]
            self._compiled.append(compiled)
        self._language_gated = any(c.languages is not None for c in self._compiled)
        self._keywords = KeywordIndex()
        for i, rec in enumerate(self._compiled):
            for prefilter in [rec.spec.prefilter, *(cp.spec.prefilter for cp in rec.patterns)]:
                self._keywords.add_substrings(w.lower() for w in prefilter.any_of if len(w) > 1)
                self._keywords.add_whole_words(w.lower() for w in prefilter.any_word)
            for cp in rec.patterns:
                for word in cp.keywords:
                    self._keywords.add_trigger(word, (i, cp))
        self._keywords.build()
        chars = {c for rec in self._compiled for c in rec.any_chars}
        chars.update(c for rec in self._compiled for cp in rec.patterns for c in cp.any_chars)
        self._gate_chars = tuple(sorted(chars))

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: object) -> Detector:
        return cls(recognizers=load_recognizers(path), **kwargs)  # type: ignore[arg-type]

    def detect(self, text: str | bytes, language: Language | None = None) -> list[Finding]:
        if isinstance(text, bytes | bytearray):
            text = decode_text(bytes(text))
        if not text:
            return []
        # language only gates language-specific recognizers; skip the guess when none is
        lang = language or ("mixed" if not self._language_gated else detect_language(text))
        lower = text.lower()
        if len(lower) != len(text):
            # a few characters (such as "İ") grow when lower-cased; offsets must line up
            lower = text.translate(_ASCII_LOWER)
        has_digit = _HAS_DIGIT.search(text) is not None
        long_run = _LONG_NUMBER.search(text) if has_digit else None
        has_long = long_run is not None
        long_start = long_run.start() if long_run is not None else 0
        present, keyword_hits = self._keywords.scan(lower)
        # single-character prefilters: one C-level `in` each, shared by every recognizer
        for c in self._gate_chars:
            if c in lower:
                present.add(c)
        by_recognizer: dict[int, list[tuple[int, int, CompiledPattern]]] = {}
        for start, end, (i, cp) in keyword_hits:
            if cp.preceded_by is not None and not cp.preceded_by.search(
                lower, max(0, start - 8), start
            ):
                continue
            by_recognizer.setdefault(i, []).append((start, end, cp))
        found: list[Finding] = []
        add = found.append
        # one flat loop (no generator per recognizer): this runs for every chat message
        for i, rec in enumerate(self._compiled):
            if rec.languages is not None and lang != "mixed" and lang not in rec.languages:
                continue
            if (rec.needs_digit and not has_digit) or (rec.needs_long and not has_long):
                continue
            if rec.gate and rec.gate.isdisjoint(present):
                continue
            if rec.function is not None:
                for s, e, sc in rec.function(text, rec.spec):
                    f = self._with_context(rec, text, lower, s, e, sc, None)
                    if f is not None:
                        add(f)
                continue
            hits = by_recognizer.get(i)
            if hits:
                for _, end, cp in _leftmost_longest(hits):
                    if cp.gate and cp.gate.isdisjoint(present):
                        continue
                    if cp.reject_next is not None:
                        nxt = _NEXT_WORD.match(lower, end)
                        if nxt is not None and nxt.group(1).rstrip(".") in cp.reject_next:
                            continue
                    m = cp.regex.match(text, end)
                    if m is not None:
                        self._emit(rec, cp, m, text, lower, add)
            if rec.trigger_re is not None:
                for t in rec.trigger_re.finditer(lower):
                    cp = rec.trigger_patterns[t.lastgroup or ""]
                    if cp.gate and cp.gate.isdisjoint(present):
                        continue
                    m = cp.regex.match(text, t.end())
                    if m is not None:
                        self._emit(rec, cp, m, text, lower, add)
            for cp in rec.patterns:
                if cp.trigger is not None or cp.keywords:
                    continue
                if cp.gate and cp.gate.isdisjoint(present):
                    continue
                if cp.search is not None and cp.search.search(text) is None:
                    continue
                # look-behinds still see the text before the starting position
                for m in cp.regex.finditer(text, long_start if rec.needs_long else 0):
                    self._emit(rec, cp, m, text, lower, add)
        if not found:
            return found
        if self.allow_list.values or self.allow_list.patterns:
            # before overlap resolution, so an allowed value cannot displace another finding
            found = [f for f in found if not self.allow_list.allows(text[f.start : f.end])]
        # a single finding has nothing to overlap with (the common case in chat)
        return found if len(found) == 1 else resolve_overlaps(found)

    def _emit(
        self,
        rec: CompiledRecognizer,
        cp: CompiledPattern,
        m: re.Match[str],
        text: str,
        lower: str,
        add: Callable[[Finding], None],
    ) -> None:
        start, end = m.span(cp.group)
        if start < 0 or start == end:
            return
        score = cp.score
        entity = None
        if cp.validator_fn is not None:
            verdict = cp.validator_fn(text[start:end])
            if verdict is False:
                return
            if verdict is not True:
                if verdict.score is not None:
                    score = verdict.score
                start += verdict.trim_start
                end -= verdict.trim_end
                entity = verdict.entity
                if end <= start:
                    return
        f = self._with_context(rec, text, lower, start, end, score, entity)
        if f is not None:
            add(f)

    def _with_context(
        self,
        rec: CompiledRecognizer,
        text: str,
        lower: str,
        start: int,
        end: int,
        score: float,
        entity: str | None,
    ) -> Finding | None:
        spec = rec.spec
        entity = entity or rec.entity
        has_context = False
        if rec.veto_re is not None and rec.veto_re.search(
            lower, max(0, start - spec.context_window), start
        ):
            return None
        if rec.context_re is not None:
            window = lower[max(0, start - spec.context_window) : start]
            words = rec.context_re.findall(window)
            if words:
                # the nearest word decides: "NIK 3171..., KK 3171..." reads each number right
                implied = rec.word_entity[words[-1]]
                if implied is None:
                    return None
                has_context = True
                entity = implied
            elif spec.context_after:
                after = lower[end : end + spec.context_after]
                m = rec.context_re.search(after)
                if m is not None and rec.word_entity[m.group(0)] is not None:
                    has_context = True
        if has_context:
            score = min(1.0, score + spec.context_boost)
        elif spec.requires_context:
            return None
        if score < self.threshold or entity not in self._entities:
            return None
        return Finding(start, end, entity, score, spec.name)


def decode_text(data: bytes) -> str:
    """Decode UTF-8 input, failing with a message that names the offset, not the bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PiiInputError(
            f"input is not valid UTF-8 (invalid byte at offset {exc.start}); "
            "convert it to UTF-8 first"
        ) from None
