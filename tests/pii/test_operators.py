from __future__ import annotations

import pytest

from privasi.pii import (
    Detector,
    Encrypt,
    Hash,
    InMemoryMappingStore,
    Mask,
    Pseudonymize,
    Redact,
    anonymize,
    decrypt_token,
    operator_from_name,
    redact_for_log,
    restore,
)

TEXT = "saya Budi, WA 0812-3456-7890, email budi@contoh.id"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def test_default_replace_gives_typed_numbered_placeholders(detector: Detector) -> None:
    text = "Budi dan Sari, WA Budi 0812-3456-7890"
    out = anonymize(text, detector.detect(text)).text
    assert out == "<PERSON_1> dan <PERSON_2>, WA <PERSON_1> <PHONE_NUMBER_1>"


def test_operator_per_entity(detector: Detector) -> None:
    out = anonymize(
        TEXT,
        detector.detect(TEXT),
        {"PHONE_NUMBER": Mask(4), "EMAIL_ADDRESS": Redact("[email]"), "PERSON": Redact()},
    )
    assert out.text == "saya , WA ****-****-7890, email [email]"
    assert [i.operator for i in out.items] == ["redact", "mask", "redact"]
    assert out.text[out.items[1].start : out.items[1].end] == "****-****-7890"


def test_mask_hides_short_values_entirely() -> None:
    assert Mask(4).apply("12345", "BANK_ACCOUNT") == "*****"


def test_hash_is_keyed_and_stable() -> None:
    a = Hash(b"k" * 32).apply("0812", "PHONE_NUMBER")
    assert a == Hash(b"k" * 32).apply("0812", "PHONE_NUMBER")
    assert a != Hash(b"j" * 32).apply("0812", "PHONE_NUMBER")
    with pytest.raises(ValueError):
        Hash(b"short")


def test_encrypt_round_trip_and_wrong_key() -> None:
    key = b"0" * 32
    token = Encrypt(key).apply("3171011708450001", "ID_NIK")
    assert "3171011708450001" not in token
    assert decrypt_token(token, key, "ID_NIK") == "3171011708450001"
    with pytest.raises(ValueError):
        decrypt_token(token, b"1" * 32, "ID_NIK")
    with pytest.raises(ValueError):
        decrypt_token(token, key, "PHONE_NUMBER")


def test_pseudonymize_is_stable_across_a_conversation_and_restores(detector: Detector) -> None:
    store = InMemoryMappingStore()
    op = Pseudonymize(store, "conv-1")
    first = anonymize(TEXT, detector.detect(TEXT), default=op).text
    second_text = "nomor saya +62 812 3456 7890, dan teman saya Sari"
    second = anonymize(second_text, detector.detect(second_text), default=op).text
    assert first == "saya <PERSON_1>, WA <PHONE_NUMBER_1>, email <EMAIL_ADDRESS_1>"
    # the same phone written another way is the same placeholder
    assert second == "nomor saya <PHONE_NUMBER_1>, dan teman saya <PERSON_2>"
    reply = "Baik <PERSON_1>, kami hubungi <PHONE_NUMBER_1>. <UNKNOWN_9> tetap."
    assert (
        restore(reply, store, "conv-1")
        == "Baik Budi, kami hubungi 0812-3456-7890. <UNKNOWN_9> tetap."
    )
    # another conversation does not see this mapping
    assert restore(reply, store, "conv-2") == reply
    # models sometimes drop or change the brackets
    assert restore("Halo [PERSON_1] dan PERSON_1!", store, "conv-1") == "Halo Budi dan Budi!"


def test_operator_from_name() -> None:
    assert operator_from_name("mask:2").apply("123456", "X") == "****56"
    with pytest.raises(ValueError, match="needs a key"):
        operator_from_name("hash")
    with pytest.raises(ValueError, match="unknown operator"):
        operator_from_name("shred")


def test_redact_for_log_replaces_with_type_and_never_raises() -> None:
    assert redact_for_log("login gagal untuk budi@contoh.id dari 10.1.2.3") == (
        "login gagal untuk <EMAIL_ADDRESS> dari <IP_ADDRESS>"
    )
    assert redact_for_log("") == ""
    assert redact_for_log(12345) == "12345"  # type: ignore[arg-type]


def test_shared_replace_operator_numbers_each_text_from_one() -> None:
    from privasi.pii import Replace

    detector = Detector()
    op = Replace()
    first = anonymize("saya Budi", detector.detect("saya Budi"), default=op).text
    second = anonymize("saya Sari", detector.detect("saya Sari"), default=op).text
    assert first == "saya <PERSON_1>" and second == "saya <PERSON_1>"
