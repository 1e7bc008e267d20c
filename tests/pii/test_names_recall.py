"""Names without cues (recall follow-up of issue 5): lower case, after greetings, in
lists, unknown to the gazetteer, and common words that are also names."""

from __future__ import annotations

import pytest

from privasi.pii import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def names(detector: Detector, text: str) -> list[str]:
    return [text[f.start : f.end] for f in detector.detect(text) if f.entity_type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yg ikut besok: andi, rina, bayu, sama tiara", ["andi", "rina", "bayu", "tiara"]),
        ("arief sama doni besok lembur", ["arief", "doni"]),
        ("tolong hapus akun lucy tan ya", ["lucy tan"]),
        ("budi udah transfer belum ya?", ["budi"]),
        ("oke, darto ga bisa dihubungi dari kemarin", ["darto"]),
        ("aku sama tasya otw ke lokasi", ["tasya"]),
    ],
)
def test_lower_case_names_with_a_neighbour_that_says_so(
    detector: Detector, text: str, expected: list[str]
) -> None:
    assert names(detector, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "budi pekerti anak saya kok dapat C",
        "indah banget hasil fotonya",
        "bayu, angin, dan air jadi tema lomba",
        "fajar tadi listrik padam",
        "oke sip, makasih banyak ya",
    ],
)
def test_lower_case_common_words_stay_common(detector: Detector, text: str) -> None:
    assert names(detector, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("makasih wulan udah bantu cek", ["wulan"]),
        ("oke deh Rizky, aku tunggu di lobi", ["Rizky"]),
        ("thanks a lot Nita, you're the best", ["Nita"]),
        ("gimana Bayu, jadi ikut?", ["Bayu"]),
        ("selamat ya Winda, semoga langgeng", ["Winda"]),
    ],
)
def test_names_after_greetings_and_thanks(
    detector: Detector, text: str, expected: list[str]
) -> None:
    assert names(detector, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Frank question: why is shipping so expensive?",
        "Grace period for the invoice is 14 days, right?",
        "Mark the order as urgent please.",
        "kartu Tri saya hilang, bisa ganti nomor yang sama?",
        "transfer via Bank Permata bisa?",
        "roti Sari Roti yang cokelat masih ada?",
        "pesan 3 botol Bintang sama kacang",
        "Putri Duyung Cottage masih ada kamar?",
        "The Lily Collection is sold out.",
    ],
)
def test_names_that_are_common_words_need_a_cue(detector: Detector, text: str) -> None:
    assert names(detector, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ticket closed by Grace after the refund.", ["Grace"]),
        ("Handover: Bayu will cover the night shift.", ["Bayu"]),
        ("Budi dan Sari, WA Budi 0812-3456-7890", ["Budi", "Sari", "Budi"]),
    ],
)
def test_common_word_names_with_a_cue(detector: Detector, text: str, expected: list[str]) -> None:
    assert names(detector, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yessica udah kirim bukti transfer ke grup", ["Yessica"]),
        ("minta tolong Soleh yang bawa truk", ["Soleh"]),
        ("Closing per Stefano's request.", ["Stefano"]),
        ("Rohana (customer) called twice about the invoice.", ["Rohana"]),
        ("sudah aku kirim ke Gunawan and Tjandra", ["Gunawan", "Tjandra"]),
        ("@Ningsih tolong dicek ya", ["Ningsih"]),
        ("--\nMeryl Tanjung\nProcurement", ["Meryl Tanjung"]),
        ("Thanks for your help today, Sebastian.", ["Sebastian"]),
        ("The driver, Komarudin, was very polite.", ["Komarudin"]),
    ],
)
def test_unknown_capitalised_names_with_a_persons_cue(
    detector: Detector, text: str, expected: list[str]
) -> None:
    assert names(detector, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We use Slack and Notion internally.",
        "Maaf kak, barangnya rusak. Fotonya udah aku kirim ya",
        "Kayu Manis 3 ikat sama Jahe 1 kg",
        "What's the difference between the Pro and Business plans?",
        "Mandiri lagi gangguan, transfernya besok aja",
        "di Cibubur macet parah, paket ke Cikarang telat",
        "kirim ke alamat kantor, kontak ke budi@Gmail.example",
    ],
)
def test_brands_places_and_everyday_words_are_not_names(detector: Detector, text: str) -> None:
    assert names(detector, text) == []


def test_a_family_name_that_is_also_a_common_word_continues_a_name(detector: Detector) -> None:
    text = "saya wali murid dari Azka Ramadhan kelas 3B"
    assert names(detector, text) == ["Azka Ramadhan"]


def test_offices_after_an_honorific_are_not_names(detector: Detector) -> None:
    assert (
        names(detector, "udah saya sampaikan ke Pak Camat, nanti Bu Lurah yang tanda tangan") == []
    )
    assert names(detector, "pasiennya Tn. Suparmin, 67 tahun") == ["Suparmin"]
