from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from privasi.pii import ALL_ENTITIES, Detector
from privasi.pii.config import default_specs, load_recognizers
from privasi.pii.validators import VALIDATORS


def test_packaged_recognizers_cover_every_entity() -> None:
    produced = set()
    for spec in default_specs():
        produced.add(spec.entity.value)
        produced.update(r.entity.value for r in spec.retype)
    assert produced == set(ALL_ENTITIES)


def test_every_referenced_validator_is_registered() -> None:
    for spec in default_specs():
        for p in spec.patterns:
            name = p.validator or spec.validator
            assert name is None or name in VALIDATORS


def test_bad_regex_is_rejected_with_recognizer_position(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: x\n    entity: PERSON\n"
        "    patterns: [{name: p, regex: '(unclosed', score: 0.5}]\n"
    )
    with pytest.raises(ValidationError, match="invalid regular expression"):
        load_recognizers(f)


def test_unknown_entity_and_fields_rejected(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("recognizers:\n  - name: x\n    entity: SSN\n    patterns: []\n")
    with pytest.raises(ValidationError):
        load_recognizers(f)


def test_custom_file_recognizer(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: member\n    entity: PASSPORT\n"
        "    patterns: [{name: p, regex: 'MBR-\\d{6}', score: 0.9}]\n"
    )
    d = Detector.from_file(f)
    text = "id MBR-123456 ok"
    assert [(f.entity_type, text[f.start : f.end]) for f in d.detect(text)] == [
        ("PASSPORT", "MBR-123456")
    ]


def test_unknown_validator_fails_at_construction(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: x\n    entity: PERSON\n    validator: nope\n"
        "    patterns: [{name: p, regex: 'a', score: 0.9}]\n"
    )
    with pytest.raises(KeyError, match="unknown validator"):
        Detector.from_file(f)


def test_trigger_patterns_keep_offsets_with_growing_lowercase() -> None:
    # "İ" lower-cases to two code points; offsets must still point at the name
    text = "İstanbul'dan geldim, saya Budi Santoso"
    (finding,) = [f for f in Detector().detect(text) if f.entity_type == "PERSON"]
    assert text[finding.start : finding.end] == "Budi Santoso"


def test_spacy_backend_reports_missing_library(tmp_path: Path) -> None:
    pytest.importorskip("pytest")
    try:
        import spacy  # noqa: F401

        pytest.skip("spaCy installed")
    except ImportError:
        pass
    from privasi.pii.ner import BackendUnavailable

    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: ner\n    entity: PERSON\n    kind: function\n"
        "    function: spacy_ner\n"
    )
    with pytest.raises(BackendUnavailable, match="needs spaCy"):
        Detector.from_file(f).detect("Budi")
