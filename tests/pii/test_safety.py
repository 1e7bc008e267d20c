"""Bad input must neither crash the engine nor make it super-linear."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privasi.pii import Detector, PiiInputError, decode_text, redact_for_log
from privasi.pii.names import given_names

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "digits": lambda n: "7" * n,
    "emails": lambda n: "a@a." * (n // 4),
    "email_run": lambda n: "a@a.a" * (n // 5),
    "dashes": lambda n: "-" * n,
    "spaced_digits": lambda n: "1 " * (n // 2),
    "dotted_digits": lambda n: "1." * (n // 2),
    "phone_like": lambda n: "0812-" * (n // 5),
    "honorifics": lambda n: "Pak Budi " * (n // 9),
    "streets": lambda n: "Jl. A No. 1 " * (n // 12),
    "colons": lambda n: "a:" * (n // 2),
    "letters": lambda n: "x" * n,
    "url": lambda n: "http://a.b/?" + "e=a@b&" * (n // 6),
    "intros": lambda n: "saya Budi " * (n // 10),
    "signatures": lambda n: "Regards,\nTom " * (n // 14),
    "form_labels": lambda n: "Nama: Budi Santoso\n" * (n // 19),
    "names": lambda n: "Budi " * (n // 5),
    "plus_runs": lambda n: "+62 " * (n // 4),
    "hex_colons": lambda n: "ab:" * (n // 3),
    "password_words": lambda n: "password " * (n // 9),
    "capitals": lambda n: "Aaaa " * (n // 5),
    "name_lists": lambda n: "Andi Wijaya, " * (n // 13),
    "numbered_names": lambda n: "\n1. Budi Santoso" * (n // 16),
    "keyword_soup": lambda n: "pak bu kak a.n. " * (n // 16),
    "place_names": lambda n: "Villa Budi " * (n // 11),
    "bracket_phones": lambda n: "(+62 812 " * (n // 9),
    # the name rules of the recall follow-up: many distinct capitalised words (each
    # looked up by position), known names, lower-case names, greetings
    "distinct_capitals": lambda n: " ".join(_made_up_word(i) for i in range(n // 7)),
    "distinct_known_names": lambda n: ", ".join(_known_names_cycle(n // 9)),
    "lower_case_names": lambda n: "andi sama rina udah, " * (n // 21),
    "greetings": lambda n: "makasih ya Budi! oke deh " * (n // 25),
}


def _made_up_word(i: int) -> str:
    letters = "bcdfghjklmnpqrstvwxz"
    tail = ""
    while True:
        i, r = divmod(i, 20)
        tail += letters[r]
        if not i:
            break
    return "Q" + (tail + "ab")[:5]


def _known_names_cycle(count: int) -> list[str]:
    known = sorted(n for n in given_names() if n.isalpha() and len(n) > 3)
    return [known[i % len(known)].capitalize() for i in range(count)]


def _best_of(detector: Detector, text: str, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        detector.detect(text)
        best = min(best, time.thread_time() - t0)
    return best


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_adversarial_inputs_stay_linear(kind: str) -> None:
    detector = Detector()
    make = ADVERSARIAL[kind]
    small = _best_of(detector, make(10_000))
    large = _best_of(detector, make(100_000))
    # linear would be 10x; 30x leaves room for noise and still fails on quadratic (100x)
    assert large < 30 * max(small, 1e-4), f"{kind}: {small:.4f}s -> {large:.4f}s"


def test_non_utf8_bytes_give_clear_error() -> None:
    with pytest.raises(PiiInputError, match=r"not valid UTF-8.*offset 5"):
        Detector().detect(b"halo \xff\xfe kak")
    assert decode_text(b"saya Budi") == "saya Budi"


def test_bytes_input_is_decoded() -> None:
    assert Detector().detect(b"email a@contoh.id")


def test_empty_and_whitespace() -> None:
    d = Detector()
    assert d.detect("") == []
    assert d.detect(" \n\t ") == []


def test_huge_input_finds_values_at_both_ends() -> None:
    d = Detector()
    filler = "lorem ipsum dolor sit amet " * 40_000  # about 1 MB
    text = "email a@contoh.id " + filler + " WA 0812-3456-7890"
    found = d.detect(text)
    assert [f.entity_type for f in found] == ["EMAIL_ADDRESS", "PHONE_NUMBER"]
    assert found[-1].end == len(text)


_DETECTOR = Detector()
# text built from the pieces recognizers care about, so fuzzing reaches their code paths
_PIECES = st.sampled_from(
    ["saya ", "Budi ", "NIK ", "0812-3456-7890", "3171011708450001", "@", "a@b.co", "Jl. ",
     "No. 5", "RT 01/RW 02", "lahir ", "17-08-1990", "password: ", "x9!", "http://a.b/?email=",
     "kak ", "İ", "ß", "\n", ", ", ".", "+62 ", "(021) ", "sk-", "ghp_", ":", "Regards,\n"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30).map("".join))
def test_fuzz_findings_are_valid_spans(text: str) -> None:
    found = _DETECTOR.detect(text)
    last_end = 0
    for f in found:
        assert 0 <= f.start < f.end <= len(text)
        assert f.start >= last_end
        last_end = f.end
    out = redact_for_log(text)
    assert isinstance(out, str)
