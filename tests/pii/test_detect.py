"""Behaviour of the detector on the messages customers actually write."""

from __future__ import annotations

import pytest

from privasi.pii import AllowList, Detector, Finding, detect_language, resolve_overlaps


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def spans(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in detector.detect(text)]


def test_issue_example_finds_every_value(detector: Detector) -> None:
    text = (
        "Halo kak, saya Budi, NIK 3171011708450001, WA 0812-3456-7890, transfer dari BCA 1234567890"
    )
    assert spans(detector, text) == [
        ("PERSON", "Budi"),
        ("ID_NIK", "3171011708450001"),
        ("PHONE_NUMBER", "0812-3456-7890"),
        ("BANK_ACCOUNT", "1234567890"),
    ]


@pytest.mark.parametrize(
    "phone",
    [
        "0812-3456-7890",
        "081234567890",
        "0812 3456 7890",
        "0812.3456.7890",
        "+62 812-3456-7890",
        "+6281234567890",
        "6281234567890",
        "(021) 5550 1234",
        "021-5550-1234",
        "+62 21 5550 1234",
        "+44 20 7946 0958",
        "+1 415 555 2671",
    ],
)
def test_phone_writings(detector: Detector, phone: str) -> None:
    assert spans(detector, f"hubungi saya di {phone} ya") == [("PHONE_NUMBER", phone)]


def test_kk_and_npwp_context_retype_sixteen_digits(detector: Detector) -> None:
    text = "NIK 3171011708450001, no KK 3171012301100007, NPWP 3171015708900003"
    assert [t for t, _ in spans(detector, text)] == ["ID_NIK", "ID_KK", "ID_NPWP"]


def test_nik_groupings_and_unknown_province(detector: Detector) -> None:
    assert spans(detector, "NIK 3171 0117 0845 0001 ya") == [("ID_NIK", "3171 0117 0845 0001")]
    assert spans(detector, "NIK: 317101-170845-0001") == [("ID_NIK", "317101-170845-0001")]
    # province 41 does not exist (yet): reported only when the context says NIK
    assert spans(detector, "nomor 4111011708450001") == []
    assert spans(detector, "NIK 4111011708450001") == [("ID_NIK", "4111011708450001")]


def test_invalid_nik_date_is_not_flagged(detector: Detector) -> None:
    # day 35 and month 14 cannot be a birth date, so this is a serial number
    assert spans(detector, "kode produk 3171013514900001") == []


def test_npwp_formats(detector: Detector) -> None:
    text = "NPWP 09.254.294.3-407.000 dan NITKU 0925429434070000000000"
    assert spans(detector, text)[0] == ("ID_NPWP", "09.254.294.3-407.000")


def test_card_luhn(detector: Detector) -> None:
    assert spans(detector, "kartu kredit 4111 1111 1111 1111") == [
        ("CREDIT_CARD", "4111 1111 1111 1111")
    ]
    # a Luhn failure is kept only with card context (people mistype), and scores lower
    assert spans(detector, "nomor 4111 1111 1111 1112") == []
    (typo,) = detector.detect("kartu kredit 4111 1111 1111 1112")
    (valid,) = detector.detect("kartu kredit 4111 1111 1111 1111")
    assert typo.entity_type == "CREDIT_CARD" and typo.score < valid.score


def test_ip_addresses_and_versions(detector: Detector) -> None:
    text = "login dari 10.20.30.40 dan 2001:db8::8a2e:370:7334, versi 1.2.3.4"
    assert spans(detector, text) == [
        ("IP_ADDRESS", "10.20.30.40"),
        ("IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ]


def test_address_from_street_to_postal_code(detector: Detector) -> None:
    text = (
        "Alamat: Jl. Melati No. 5 RT 03/RW 04, Kel. Sukajadi, Kec. Sukasari, Bandung 40162. "
        "Tolong kirim besok ya"
    )
    assert spans(detector, text) == [
        ("ADDRESS", "Jl. Melati No. 5 RT 03/RW 04, Kel. Sukajadi, Kec. Sukasari, Bandung 40162")
    ]


def test_date_of_birth_needs_birth_context(detector: Detector) -> None:
    assert spans(detector, "TTL: Bandung, 17-08-1990") == [("DATE_OF_BIRTH", "17-08-1990")]
    assert spans(detector, "born on March 3, 1988") == [("DATE_OF_BIRTH", "March 3, 1988")]
    assert spans(detector, "pesanan dikirim 17-08-2024") == []


def test_person_without_honorific(detector: Detector) -> None:
    assert spans(detector, "Terima kasih Pak Ahmad Fauzi") == [("PERSON", "Ahmad Fauzi")]
    assert spans(detector, "Hi, my name is Sarah Johnson") == [("PERSON", "Sarah Johnson")]
    assert spans(detector, "Regards,\nTom Baker") == [("PERSON", "Tom Baker")]
    assert spans(detector, "ok makasih infonya, thanks, Budi") == [("PERSON", "Budi")]
    assert spans(detector, "Thanks, Kak!") == []
    assert spans(detector, "halo kak, saya mau tanya") == []
    # "nama saya" takes a lower-case name even outside the gazetteer; "saya" alone does not
    # (a name the gazetteer knows, such as "ocha", it does take)
    assert spans(detector, "namaku kiwil kak") == [("PERSON", "kiwil")]
    assert spans(detector, "saya kiwil kak") == []
    assert spans(detector, "saya ocha kak") == [("PERSON", "ocha")]
    assert spans(detector, "nama saya adalah Budi Santoso") == [("PERSON", "Budi Santoso")]
    assert spans(detector, "My name is misspelled as Yosep") == []


def test_secrets(detector: Detector) -> None:
    text = "password: Rahasia123! dan key sk-proj-abcdefghijklmnopqrstuvwx"
    assert [t for t, _ in spans(detector, text)] == ["SECRET", "SECRET"]
    assert spans(detector, "saya lupa password saya") == []


def test_url_only_with_personal_parameters(detector: Detector) -> None:
    personal = "https://toko.example/track?email=budi%40contoh.id&order=1"
    assert spans(detector, f"cek {personal} ya") == [("URL", personal)]
    assert spans(detector, f"(lihat {personal}).") == [("URL", personal)]
    assert spans(detector, "cek https://toko.example/produk/123 ya") == []


def test_passport_needs_context(detector: Detector) -> None:
    assert spans(detector, "nomor paspor saya C1234567") == [("PASSPORT", "C1234567")]
    assert spans(detector, "passport number 123456789") == [("PASSPORT", "123456789")]
    assert spans(detector, "kode C1234567") == []


def test_more_writings(detector: Detector) -> None:
    assert spans(detector, "hp 0812 34 567 890 ya") == [("PHONE_NUMBER", "0812 34 567 890")]
    assert spans(detector, "DOB: 17-Aug-1990") == [("DATE_OF_BIRTH", "17-Aug-1990")]
    assert spans(detector, "alamat RT 02/RW 03, Desa Sukamaju, Kec. Cikalong 46195") == [
        ("ADDRESS", "RT 02/RW 03, Desa Sukamaju, Kec. Cikalong 46195")
    ]
    # a family name from the gazetteer pulls in the unknown given name before it
    assert spans(detector, "Bapak Togar Siregar datang") == [("PERSON", "Togar Siregar")]
    assert spans(detector, "pesan dari PT Maju Jaya") == []


@pytest.mark.parametrize(
    "text",
    [
        "Total Rp 1.250.000, sudah transfer ya",
        "resi JP1234567890 belum update",
        "order #ORD-88231 jam 14.30",
        "update ke versi 2.3.1 dong",
        "pakai kode promo HEMAT50",
        "invoice INV/2024/10/0012 tanggal 12-10-2024",
        "nomor VA 8808 1234 5678 9012",
    ],
)
def test_hard_negatives(detector: Detector, text: str) -> None:
    assert spans(detector, text) == []


def test_finding_repr_never_shows_value(detector: Detector) -> None:
    text = "email budi.santoso@contoh.co.id"
    (finding,) = detector.detect(text)
    assert "budi" not in repr(finding) and "budi" not in str(finding)
    assert finding.value(text) == "budi.santoso@contoh.co.id"


def test_allow_list_suppresses_published_values() -> None:
    text = "hubungi CS kami di 021-5550-1234 atau saya di 0812-3456-7890"
    allowed = Detector(allow_list=AllowList.of(["021-5550-1234"]))
    assert [text[f.start : f.end] for f in allowed.detect(text)] == ["0812-3456-7890"]


def test_entities_filter() -> None:
    d = Detector(entities=["EMAIL_ADDRESS"])
    assert [f.entity_type for f in d.detect("saya Budi, a@contoh.id, 0812-3456-7890")] == [
        "EMAIL_ADDRESS"
    ]
    with pytest.raises(ValueError, match="unknown entity"):
        Detector(entities=["SSN"])


def test_overlap_rule_widest_then_score_then_priority() -> None:
    wide = Finding(0, 30, "URL", 0.6, "a")
    inner = Finding(10, 20, "EMAIL_ADDRESS", 0.9, "b")
    same_low = Finding(40, 56, "CREDIT_CARD", 0.6, "c")
    same_high = Finding(40, 56, "ID_NIK", 0.8, "d")
    tie_a = Finding(60, 70, "ID_NIK", 0.8, "e")
    tie_b = Finding(60, 70, "ID_KK", 0.8, "f")
    partial = Finding(25, 35, "PHONE_NUMBER", 0.99, "g")
    kept = resolve_overlaps([inner, same_low, wide, same_high, tie_a, tie_b, partial])
    assert [(f.start, f.entity_type) for f in kept] == [(0, "URL"), (40, "ID_NIK"), (60, "ID_KK")]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("halo kak, saya mau tanya soal pesanan yang belum sampai", "id"),
        ("hello, I would like to check the status of my order please", "en"),
        ("hi kak, my order belum sampai, can you check please? makasih", "mixed"),
    ],
)
def test_language_detection(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_language_is_reported_and_can_be_forced(detector: Detector) -> None:
    assert detector.detect("email a@contoh.id", language="en")
