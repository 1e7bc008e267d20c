"""The detection memory: the same findings as the detector, without keeping the text."""

from __future__ import annotations

from privasi.gateway.detection import MIN_CACHED_CHARS, CachedDetector
from privasi.pii import Detector, Finding

SYSTEM = (
    "Kamu adalah asisten layanan pelanggan Toko Contoh. Jika pelanggan bingung, arahkan ke "
    "admin kami di admin.toko@contoh.co.id atau 0812-0000-1111 pada jam kerja."
)


class Counting:
    def __init__(self) -> None:
        self.inner = Detector()
        self.calls = 0

    def detect(self, text: str) -> list[Finding]:
        self.calls += 1
        return self.inner.detect(text)


def test_a_text_seen_before_gives_the_same_findings_without_detecting_again() -> None:
    counting = Counting()
    cached = CachedDetector(counting)  # type: ignore[arg-type]
    first = cached.detect(SYSTEM)
    again = cached.detect(SYSTEM)
    assert first == again == Detector().detect(SYSTEM)
    assert {f.entity_type for f in first} >= {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert counting.calls == 1 and cached.hits == 1
    again.clear()  # a caller changing its list does not change what is remembered
    assert cached.detect(SYSTEM) == first


def test_a_changed_text_is_detected_afresh() -> None:
    counting = Counting()
    cached = CachedDetector(counting)  # type: ignore[arg-type]
    cached.detect(SYSTEM)
    changed = SYSTEM.replace("0812-0000-1111", "0813-2222-3333 atau 0857-4444-5555")
    found = cached.detect(changed)
    assert counting.calls == 2
    assert [f for f in found if f.entity_type == "PHONE_NUMBER"] and len(found) > len(
        cached.detect(SYSTEM)
    )


def test_short_texts_are_never_remembered() -> None:
    counting = Counting()
    cached = CachedDetector(counting)  # type: ignore[arg-type]
    short = "WA saya 0812-3456-7890"
    assert len(short) < MIN_CACHED_CHARS
    cached.detect(short)
    cached.detect(short)
    assert counting.calls == 2 and cached.hits == 0


def test_the_memory_keeps_neither_the_text_nor_its_values_and_stays_bounded() -> None:
    cached = CachedDetector(Detector(), size=3)
    texts = [SYSTEM.replace("Toko Contoh", f"Toko Nomor {i}") for i in range(5)]
    for text in texts:
        cached.detect(text)
    kept = repr(vars(cached))
    assert "admin.toko@contoh.co.id" not in kept and "0812-0000-1111" not in kept
    assert len(cached._found) == 3
    cached.detect(texts[0])  # pushed out by the later ones: detected again
    assert cached.hits == 0


def test_each_organisation_has_its_own_entries() -> None:
    counting = Counting()
    cached = CachedDetector(counting)  # type: ignore[arg-type]
    first = cached.scoped("org-a").detect(SYSTEM)
    assert cached.scoped("org-a").detect(SYSTEM) == first and counting.calls == 1
    # another organisation sending the same text is not answered from org-a's entry
    assert cached.scoped("org-b").detect(SYSTEM) == first and counting.calls == 2
