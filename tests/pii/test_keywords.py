"""The keyword index and the keyword-triggered recognizers built on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from privasi.pii import Detector
from privasi.pii.config import load_recognizers
from privasi.pii.keywords import KeywordIndex


def _index() -> KeywordIndex[str]:
    idx: KeywordIndex[str] = KeywordIndex()
    idx.add_trigger("nama", "short")
    idx.add_trigger("nama saya", "long")
    idx.add_substrings(["rek"])
    idx.add_whole_words(["rt"])
    idx.build()
    return idx


def test_triggers_are_whole_words_and_report_every_owner() -> None:
    present, hits = _index().scan("namanya budi, nama saya ani")
    # "namanya" is no hit for "nama"; both keywords hit at the same start otherwise
    assert sorted(hits) == [(14, 18, "short"), (14, 23, "long")]
    assert present == set()


def test_substring_and_whole_word_prefilters_differ() -> None:
    present, _ = _index().scan("no rekening, kartu")
    # "rek" counts inside a word; "rt" only as a word of its own, never inside "kartu"
    assert present == {"rek"}
    present, _ = _index().scan("rt 04 rw 07")
    assert present == {"\0rt"}


def test_empty_index_scans_nothing() -> None:
    idx: KeywordIndex[str] = KeywordIndex()
    idx.build()
    assert idx.scan("apa saja") == (set(), [])


def _write(tmp_path: Path, pattern: str) -> Path:
    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: x\n    entity: PERSON\n    patterns:\n"
        f"      - {{name: p, score: 0.9, group: n, {pattern}}}\n"
    )
    return f


def test_keyword_recognizer_from_yaml_with_suffixes_and_line_start(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "keywords: [ketua, wakil], keyword_suffixes: ['', ' panitia'], "
        r"keyword_preceded_by: '(?:^|\n)\Z', "
        r"regex: '\s?:\s(?P<n>[A-Z][a-z]+)'",
    )
    detector = Detector.from_file(f)
    text = "Ketua panitia: Rudi\nWakil: Sari, bukan ketua: Tono"
    assert [text[x.start : x.end] for x in detector.detect(text)] == ["Rudi", "Sari"]


def test_longest_keyword_at_a_position_wins(tmp_path: Path) -> None:
    f = _write(tmp_path, r"keywords: [nama, nama saya], regex: '\s(?P<n>[A-Z][a-z]+)'")
    text = "nama saya Budi"
    assert [text[x.start : x.end] for x in Detector.from_file(f).detect(text)] == ["Budi"]


@pytest.mark.parametrize(
    "pattern",
    [
        r"keywords: [a], trigger: 'a', regex: '(?P<n>x)'",
        r"keyword_suffixes: ['x'], regex: '(?P<n>x)'",
        r"keyword_preceded_by: '^', regex: '(?P<n>x)'",
    ],
)
def test_inconsistent_keyword_fields_are_rejected(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValidationError):
        load_recognizers(_write(tmp_path, pattern))


def test_prefilter_search_must_compile(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "version: 1\nrecognizers:\n  - name: x\n    entity: PERSON\n    patterns:\n"
        "      - {name: p, score: 0.9, regex: 'x', prefilter: {search: '(unclosed'}}\n"
    )
    with pytest.raises(ValidationError, match="invalid regular expression"):
        load_recognizers(f)
