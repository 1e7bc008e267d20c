"""Quality floors on the labelled corpus (see corpus/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from privasi.pii import Detector

from .corpus_eval import CORPUS, STRUCTURED, Scores, evaluate, load

TYPES = {
    "EMAIL_ADDRESS", "PHONE_NUMBER", "ID_NIK", "ID_NPWP", "ID_KK", "CREDIT_CARD",
    "BANK_ACCOUNT", "IP_ADDRESS", "PERSON", "ADDRESS", "DATE_OF_BIRTH", "SECRET", "URL",
    "PASSPORT",
}  # fmt: skip


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return load()


@pytest.fixture(scope="module")
def scores(records: list[dict]) -> Scores:
    return evaluate(Detector(), records)


@pytest.fixture(scope="module")
def hand_scores(records: list[dict]) -> Scores:
    return evaluate(Detector(), [r for r in records if r["source"] == "handwritten"])


def test_corpus_shape(records: list[dict]) -> None:
    assert len(records) >= 1500
    hand = sum(r["source"] == "handwritten" for r in records)
    assert hand / len(records) >= 0.30
    assert len({r["id"] for r in records}) == len(records)
    assert {r["lang"] for r in records} == {"id", "en", "mixed"}
    assert {r["kind"] for r in records} >= {"wa", "widget", "ticket", "form"}
    negatives = sum(not r["entities"] for r in records)
    assert negatives >= 200  # hard negatives and everyday messages with nothing to find


def test_labels_are_well_formed(records: list[dict]) -> None:
    for r in records:
        last_end = 0
        for e in sorted(r["entities"], key=lambda e: e["start"]):
            value = r["text"][e["start"] : e["end"]]
            assert e["type"] in TYPES, r["id"]
            assert value and value == value.strip(), (r["id"], e)
            assert e["start"] >= last_end, f"overlapping labels in {r['id']}"
            last_end = e["end"]


def test_generated_files_match_their_sources(tmp_path: Path) -> None:
    """The checked-in JSONL is exactly what build.py produces (deterministic seed)."""
    before = {p.name: p.read_bytes() for p in CORPUS.glob("*.jsonl")}
    subprocess.run([sys.executable, str(CORPUS / "build.py")], check=True, capture_output=True)
    after = {p.name: p.read_bytes() for p in CORPUS.glob("*.jsonl")}
    assert before == after


@pytest.mark.parametrize("entity", sorted(TYPES))
def test_per_entity_floors(scores: Scores, entity: str) -> None:
    recall_floor = 0.85 if entity == "PERSON" else 0.9
    assert scores.recall(entity) >= recall_floor, entity
    assert scores.precision(entity) >= 0.9, entity


def test_structured_micro_f1(scores: Scores, hand_scores: Scores) -> None:
    assert scores.micro_f1(STRUCTURED) >= 0.95
    assert hand_scores.micro_f1(STRUCTURED) >= 0.95


def test_person_recall_on_handwritten(hand_scores: Scores) -> None:
    assert hand_scores.recall("PERSON") >= 0.85


def test_leak_rate(scores: Scores, hand_scores: Scores) -> None:
    assert scores.leak_rate <= 0.02
    assert hand_scores.leak_rate <= 0.04


def test_hard_negatives_stay_clean(records: list[dict]) -> None:
    detector = Detector()
    clean = [r for r in records if not r["entities"]]
    flagged = [r["id"] for r in clean if detector.detect(r["text"])]
    assert len(flagged) / len(clean) <= 0.02, flagged[:10]


def test_corpus_files_are_valid_jsonl() -> None:
    for path in CORPUS.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            rec = json.loads(line)
            assert set(rec) == {"id", "text", "entities", "source", "kind", "lang"}
