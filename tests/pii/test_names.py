"""Names the way Indonesian letters, tickets and chats write them (follow-up of issue 5)."""

from __future__ import annotations

import pytest

from privasi.pii import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def names(detector: Detector, text: str) -> list[str]:
    return [text[f.start : f.end] for f in detector.detect(text) if f.entity_type == "PERSON"]


def test_signature_after_a_blank_line(detector: Detector) -> None:
    text = "Mohon data saya dihapus.\n\nHormat saya,\n\nMarulitua Sihombing\nHP 0813-3901-2277"
    assert names(detector, text) == ["Marulitua Sihombing"]


def test_balinese_names_keep_their_i_and_ni(detector: Detector) -> None:
    text = "Saya, I Wayan Sukerta, memberi kuasa kepada Ni Kadek Wulandari."
    assert names(detector, text) == ["I Wayan Sukerta", "Ni Kadek Wulandari"]


def test_list_of_names_takes_the_ones_the_gazetteer_lacks(detector: Detector) -> None:
    text = "Peserta rapat: Togar Siregar, Lie Kiong Tjoe, dan Asep Saepudin."
    assert names(detector, text) == ["Togar Siregar", "Lie Kiong Tjoe", "Asep Saepudin"]


def test_numbered_list_after_a_label(detector: Detector) -> None:
    text = "Tembusan:\n1. Parlindungan Tobing\n2. Sumiyem\n3. Arsip"
    assert names(detector, text) == ["Parlindungan Tobing", "Sumiyem"]


def test_a_list_of_cities_or_products_is_not_a_list_of_people(detector: Detector) -> None:
    assert names(detector, "Kami kirim ke Jakarta, Bandung, dan Surabaya.") == []
    assert names(detector, "Stok Indomie, Aqua, dan Chitato habis.") == []


def test_name_alone_on_its_line_starts_at_the_line(detector: Detector) -> None:
    assert names(detector, "Salam,\nParulian Hutapea\nStaf Keuangan") == ["Parulian Hutapea"]
    # in running text a capital at the start of a line proves nothing
    assert names(detector, "User Oliver Grant asks to correct his surname") == ["Oliver Grant"]


def test_given_name_that_is_also_a_month_continues_a_name(detector: Detector) -> None:
    assert names(detector, "refund ke BCA a/n Tan Mei Ling ya") == ["Tan Mei Ling"]
    assert names(detector, "kirim tanggal 5 Mei ya") == []


def test_lower_case_full_name_after_nama_lengkap_saya(detector: Detector) -> None:
    text = "nama lengkap saya ni komang ayu lestari, mau daftar"
    assert names(detector, text) == ["ni komang ayu lestari"]


@pytest.mark.parametrize(
    "text",
    [
        "Menginap di Villa Kenanga Ubud tiga malam",
        "Cabang tutup saat Idul Fitri, buka lagi hari Senin",
        "mau pesen 2 pak Beng-Beng sama 3 dus Yakult",
        "aku mau beli Bear Brand 1 karton",
        "Produknya Teh Botol Sosro dan Teh Pucuk",
        "Operations Lead | Kopi Senja",
        "tiket Prambanan sama Malioboro tour hari Minggu",
    ],
)
def test_places_brands_and_holidays_are_not_names(detector: Detector, text: str) -> None:
    assert names(detector, text) == []


def test_honorifics_stay_outside_the_name(detector: Detector) -> None:
    assert names(detector, "Teh Euis, kuenya sudah jadi") == ["Euis"]
    assert names(detector, "tadi ngobrol sama Ko Hendrik soal harga") == ["Hendrik"]


def test_place_names_still_belong_to_street_addresses(detector: Detector) -> None:
    text = "kirim ke Jl. Kemang Raya No. 10, Jakarta Selatan 12730"
    found = [(f.entity_type, text[f.start : f.end]) for f in detector.detect(text)]
    assert found == [("ADDRESS", "Jl. Kemang Raya No. 10, Jakarta Selatan 12730")]


def test_phone_in_brackets_with_country_code(detector: Detector) -> None:
    text = "Emergency contact: Darius Wanggai (+62 812 9001 7766)"
    found = [(f.entity_type, text[f.start : f.end]) for f in detector.detect(text)]
    assert found == [("PERSON", "Darius Wanggai"), ("PHONE_NUMBER", "+62 812 9001 7766")]
