"""Optional NER backends, used when their library is installed.

Enable one by adding a function recognizer to a recognizer file:

    - name: person_spacy
      entity: PERSON
      kind: function
      function: spacy_ner
      options: {model: en_core_web_sm, score: 0.6}

The rules in recognizers.yaml stay in charge; NER adds names they miss, and the
overlap rule merges both. The backend is not in the default file because spaCy costs
about 10 ms per message, a hundred times the rest of the engine."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from .config import RecognizerSpec
from .functions import Span, register

# spaCy labels (English and multilingual models) that mean a person
_PERSON_LABELS = frozenset({"PERSON", "PER"})


class BackendUnavailable(RuntimeError):
    """The NER library or model named in a recognizer file is not installed."""


@lru_cache(maxsize=4)
def _spacy_model(name: str) -> Any:
    try:
        import spacy  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise BackendUnavailable(
            "the spacy_ner recognizer needs spaCy: pip install spacy and a model package"
        ) from None
    try:
        return spacy.load(name, disable=["parser", "lemmatizer"])
    except OSError:
        raise BackendUnavailable(f"spaCy model {name!r} is not installed") from None


@register("spacy_ner")
def spacy_ner(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    model = _spacy_model(str(spec.options.get("model", "en_core_web_sm")))
    score = float(spec.options.get("score", 0.6))  # type: ignore[arg-type]
    for ent in model(text).ents:
        if ent.label_ in _PERSON_LABELS:
            yield ent.start_char, ent.end_char, score
