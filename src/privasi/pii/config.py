"""Recognizer definitions: YAML data validated by pydantic, compiled once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .names import stopwords
from .types import EntityType
from .validators import Validator, get_validator

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prefilter(_Strict):
    """A cheap test run before any regex: skip the recognizer when it fails."""

    needs_digit: bool = False
    # a run of at least 8 digits, single spaces, dots or dashes allowed between them;
    # every match must begin with such a run, so the scan starts at the first one
    needs_long_number: bool = False
    any_of: list[str] = []
    # whole words (no letter, digit or underscore before, no letter after); passes when
    # any_of or any_word does
    any_word: list[str] = []
    # a regex that must occur somewhere in the text (one `search`, on top of the word
    # tests): write it to open with a literal so `re` can skip to the candidates
    search: str | None = None

    @field_validator("search")
    @classmethod
    def _search_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class PatternSpec(_Strict):
    name: str
    regex: str
    score: float = Field(ge=0.0, le=1.0)
    group: int | str = 0
    flags: list[Literal["IGNORECASE", "MULTILINE"]] = []
    validator: str | None = None
    prefilter: Prefilter = Prefilter()
    # Optional fast path: a regex over the lower-cased text that finds where a match can
    # begin; `regex` is then anchored right after each trigger. Case-insensitive keyword
    # alternations are slow in `re`; plain lower-case literals are fast.
    trigger: str | None = None
    # The preferred fast path: literal keywords (matched in the lower-cased text as whole
    # words: no letter, digit or underscore before, no letter after) found for all
    # recognizers at once by one Aho-Corasick automaton; `regex` is anchored right after
    # each. With `keyword_suffixes`, the keywords are every keyword followed by every
    # suffix (list "" to keep the bare keyword).
    keywords: list[str] = []
    keyword_suffixes: list[str] = []
    # a regex that must match the lower-cased text just before a keyword, ending exactly
    # where the keyword starts (end it with \Z), e.g. "(?:^|[,;(]\s?)\Z" for a label that
    # opens a line; it sees at most the 8 characters before the keyword
    keyword_preceded_by: str | None = None
    # drop a keyword hit without running `regex` when the next word is a common word
    # (stopwords.txt): for patterns whose validator rejects exactly that ("saya mau ...")
    reject_next_stopword: bool = False

    @model_validator(mode="after")
    def _one_trigger(self) -> PatternSpec:
        if self.trigger is not None and self.keywords:
            raise ValueError(f"pattern {self.name}: use either `trigger` or `keywords`")
        if (
            self.keyword_suffixes or self.keyword_preceded_by or self.reject_next_stopword
        ) and not self.keywords:
            raise ValueError(
                f"pattern {self.name}: `keyword_suffixes` and `keyword_preceded_by` need `keywords`"
            )
        return self

    def expanded_keywords(self) -> tuple[str, ...]:
        words = {w.lower() for w in self.keywords}
        if self.keyword_suffixes:
            words = {f"{w}{s.lower()}" for w in words for s in self.keyword_suffixes}
        return tuple(sorted(words))

    @field_validator("regex", "trigger", "keyword_preceded_by")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class ContextWords(_Strict):
    id: list[str] = []
    en: list[str] = []

    def all(self) -> list[str]:
        return [*self.id, *self.en]


class Retype(_Strict):
    """Context words that turn a match into a more specific entity (NIK -> KK)."""

    entity: EntityType
    words: list[str]


class RecognizerSpec(_Strict):
    name: str
    entity: EntityType
    kind: Literal["pattern", "function"] = "pattern"
    function: str | None = None
    patterns: list[PatternSpec] = []
    validator: str | None = None
    context: ContextWords = ContextWords()
    negative_context: list[str] = []
    # words that rule a match out wherever they are in the window, not only when nearest
    veto_context: list[str] = []
    retype: list[Retype] = []
    context_window: int = Field(default=40, ge=0, le=200)
    context_after: int = Field(default=0, ge=0, le=100)
    context_boost: float = Field(default=0.3, ge=0.0, le=1.0)
    requires_context: bool = False
    prefilter: Prefilter = Prefilter()
    languages: list[Literal["id", "en"]] = ["id", "en"]
    options: dict[str, object] = {}

    @model_validator(mode="after")
    def _kind_fields(self) -> RecognizerSpec:
        if self.kind == "pattern" and not self.patterns:
            raise ValueError(f"recognizer {self.name}: a pattern recognizer needs patterns")
        if self.kind == "function" and not self.function:
            raise ValueError(f"recognizer {self.name}: a function recognizer needs `function`")
        return self


class RecognizerFile(_Strict):
    version: Literal[1] = 1
    recognizers: list[RecognizerSpec]

    @model_validator(mode="after")
    def _unique_names(self) -> RecognizerFile:
        names = [r.name for r in self.recognizers]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate recognizer names: {sorted(dupes)}")
        return self


_WORD_START = "(?<![a-z0-9_])"


def _word_regex(words: list[str]) -> str:
    ordered = sorted({w.lower() for w in words}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in ordered)


@dataclass(slots=True)
class CompiledPattern:
    spec: PatternSpec
    regex: re.Pattern[str]
    validator: str | None
    trigger: re.Pattern[str] | None = None
    validator_fn: Validator | None = None
    score: float = 0.0
    group: int | str = 0
    keywords: tuple[str, ...] = ()
    # single-character prefilters, tested with `in` (one C call, cheaper than an
    # automaton hit per comma); longer words are looked up in the keyword index's scan
    any_chars: tuple[str, ...] = ()
    preceded_by: re.Pattern[str] | None = None
    search: re.Pattern[str] | None = None
    reject_next: frozenset[str] | None = None
    # words and characters together: the pattern runs when any is in the message's
    # `present` set (empty: always)
    gate: frozenset[str] = frozenset()


@dataclass(slots=True)
class CompiledRecognizer:
    """A recognizer ready to run: regexes compiled and context words merged into one
    regex whose last hit before a match tells which word is nearest."""

    spec: RecognizerSpec
    patterns: list[CompiledPattern]
    context_re: re.Pattern[str] | None
    # lower-cased context word -> entity it implies, or None for a negative word
    word_entity: dict[str, str | None] = field(default_factory=dict)
    veto_re: re.Pattern[str] | None = None
    # flattened from the spec: read once per recognizer per message, so kept as attributes
    needs_digit: bool = False
    needs_long: bool = False
    languages: frozenset[str] | None = None
    entity: str = ""
    function: Callable[[str, RecognizerSpec], Iterable[tuple[int, int, float]]] | None = None
    # all pattern triggers of the recognizer in one regex (named group per pattern), so
    # the lower-cased text is scanned once instead of once per pattern
    trigger_re: re.Pattern[str] | None = None
    trigger_patterns: dict[str, CompiledPattern] = field(default_factory=dict)
    any_chars: tuple[str, ...] = ()
    gate: frozenset[str] = frozenset()


def _split_prefilter(
    words: Iterable[str], whole: Iterable[str] = ()
) -> tuple[frozenset[str], tuple[str, ...]]:
    """Multi-character words for the keyword index (whole words marked by a leading NUL,
    as the index reports them) and single characters for a plain `in` test."""
    lowered = {w.lower() for w in words}
    return (
        frozenset(w for w in lowered if len(w) > 1) | {f"\0{w.lower()}" for w in whole},
        tuple(sorted(w for w in lowered if len(w) == 1)),
    )


def compile_recognizer(spec: RecognizerSpec) -> CompiledRecognizer:
    rec_words, rec_chars = _split_prefilter(spec.prefilter.any_of, spec.prefilter.any_word)
    patterns = []
    for p in spec.patterns:
        flags = 0
        for f in p.flags:
            flags |= _FLAGS[f]
        words, chars = _split_prefilter(p.prefilter.any_of, p.prefilter.any_word)
        patterns.append(
            CompiledPattern(
                spec=p,
                regex=re.compile(p.regex, flags),
                validator=p.validator or spec.validator,
                trigger=re.compile(p.trigger) if p.trigger else None,
                validator_fn=get_validator(name)
                if (name := p.validator or spec.validator)
                else None,
                score=p.score,
                group=p.group,
                keywords=p.expanded_keywords(),
                any_chars=chars,
                preceded_by=(
                    re.compile(p.keyword_preceded_by, re.MULTILINE)
                    if p.keyword_preceded_by
                    else None
                ),
                gate=words | frozenset(chars),
                search=re.compile(p.prefilter.search) if p.prefilter.search else None,
                reject_next=stopwords() if p.reject_next_stopword else None,
            )
        )
    word_entity: dict[str, str | None] = {}
    for w in spec.context.all():
        word_entity[w.lower()] = spec.entity.value
    for rt in spec.retype:
        for w in rt.words:
            word_entity[w.lower()] = rt.entity.value
    for w in spec.negative_context:
        word_entity[w.lower()] = None
    context_re = None
    if word_entity:
        context_re = re.compile(rf"(?<![a-z0-9])(?:{_word_regex(list(word_entity))})(?![a-z0-9])")
    triggered = [cp for cp in patterns if cp.trigger is not None]
    trigger_re = None
    if triggered:
        sources = [cp.spec.trigger or "" for cp in triggered]
        # a look-behind shared by every trigger is tested once per position, not once per
        # alternative: this halves the cost of the scan
        shared = _WORD_START if all(t.startswith(_WORD_START) for t in sources) else ""
        alternatives = "|".join(f"(?P<_t{i}>{t[len(shared) :]})" for i, t in enumerate(sources))
        trigger_re = re.compile(f"{shared}(?:{alternatives})")
    veto_re = None
    if spec.veto_context:
        veto_re = re.compile(rf"(?<![a-z0-9])(?:{_word_regex(spec.veto_context)})(?![a-z0-9])")
    return CompiledRecognizer(
        spec=spec,
        veto_re=veto_re,
        trigger_re=trigger_re,
        trigger_patterns={f"_t{i}": cp for i, cp in enumerate(triggered)},
        entity=spec.entity.value,
        needs_digit=spec.prefilter.needs_digit,
        needs_long=spec.prefilter.needs_long_number,
        languages=None if set(spec.languages) >= {"id", "en"} else frozenset(spec.languages),
        patterns=patterns,
        context_re=context_re,
        word_entity=word_entity,
        any_chars=rec_chars,
        gate=rec_words | frozenset(rec_chars),
    )


def load_recognizers(path: str | Path | None = None) -> list[RecognizerSpec]:
    """Load and validate a recognizer file; the packaged default when no path is given."""
    if path is None:
        text = resources.files("privasi.pii").joinpath("data/recognizers.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return RecognizerFile.model_validate(yaml.safe_load(text)).recognizers


@lru_cache(maxsize=1)
def default_specs() -> tuple[RecognizerSpec, ...]:
    return tuple(load_recognizers())
