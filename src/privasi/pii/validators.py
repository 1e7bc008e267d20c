"""Validator functions, registered by name so the YAML can refer to them.

A validator receives the matched text and returns False to reject it, True to keep
it as matched, or a Verdict that changes its score or trims its span."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

import phonenumbers
from stdnum import luhn

from .names import common_words, given_names, stopwords


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float | None = None
    trim_start: int = 0
    trim_end: int = 0
    entity: str | None = None


Result = bool | Verdict
Validator = Callable[[str], Result]

VALIDATORS: dict[str, Validator] = {}


def register(name: str) -> Callable[[Validator], Validator]:
    def deco(fn: Validator) -> Validator:
        if name in VALIDATORS:
            raise ValueError(f"validator {name!r} registered twice")
        VALIDATORS[name] = fn
        return fn

    return deco


def get_validator(name: str) -> Validator:
    try:
        return VALIDATORS[name]
    except KeyError:
        raise KeyError(f"unknown validator {name!r}; known: {sorted(VALIDATORS)}") from None


_NON_DIGIT = re.compile(r"\D")


def digits(value: str) -> str:
    return _NON_DIGIT.sub("", value)


_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Province codes of the NIK. Checked softly: a number from a province missing here
# (new provinces appear faster than published tables) keeps a lower score.
_PROVINCES = frozenset(
    [
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32",
        "33", "34", "35", "36", "51", "52", "53", "61", "62", "63", "64", "65",
        "71", "72", "73", "74", "75", "76", "81", "82", "91", "92", "93", "94",
        "95", "96", "97"
    ]
)  # fmt: skip


def nik_score(number: str) -> float | None:
    """Score a 16-digit string as a NIK: None when its structure rules it out."""
    if len(number) != 16 or number[2:4] == "00" or number[12:] == "0000":
        return None
    if number[:2] < "11":
        return None
    # the birth date DDMMYY (day + 40 for women); the century is unknown, so a date is
    # valid if it exists in either 19YY or 20YY (29 February decides)
    day = int(number[6:8]) % 40
    month = int(number[8:10])
    if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
        return None
    if month == 2 and day == 29 and int(number[10:12]) % 4:
        return None
    return 0.7 if number[:2] in _PROVINCES else 0.4


@register("nik")
def validate_nik(value: str) -> Result:
    d = digits(value)
    score = nik_score(d)
    if score is None:
        # a 16-digit number that cannot be a NIK is kept only if context names it as one
        # (people mistype their NIK; the context boost then lifts it over the threshold)
        return Verdict(score=0.25) if len(d) == 16 and d[0] != "0" else False
    return Verdict(score=score)


@register("npwp")
def validate_npwp(value: str) -> Result:
    d = digits(value)
    if len(d) == 15:
        return luhn.is_valid(d[:9])
    if len(d) == 16 and d.startswith("0"):
        return luhn.is_valid(d[:10])
    if len(d) == 22:
        # NITKU: the taxpayer's 16-digit NPWP followed by a 6-digit place-of-business code
        head = d[:16]
        return luhn.is_valid(head[:10]) if head.startswith("0") else nik_score(head) is not None
    return False


@register("npwp_formatted")
def validate_npwp_formatted(value: str) -> Result:
    # the dotted 15-digit layout is itself strong evidence; a failed check digit (a
    # typo) lowers the score instead of hiding the number
    return True if luhn.is_valid(digits(value)[:9]) else Verdict(score=0.5)


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|35|6(?:011|5|4[4-9])|62\d{14})")


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(d: str) -> bool:
    """The Luhn check on a string of digits. stdnum's luhn.is_valid gives the same answer
    (a test holds them together) but costs about 15 µs; every 16-digit candidate, NIKs
    included, passes through here."""
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = ord(ch) - 48
        total += _DOUBLED[n] if i & 1 else n
    return total % 10 == 0


@register("credit_card")
def validate_card(value: str) -> Result:
    d = digits(value)
    if not 13 <= len(d) <= 19 or not _CARD_PREFIX.match(d) or len(set(d)) < 2:
        return False
    # a failed Luhn check is usually a typo: kept only when context says "card"
    return True if luhn_ok(d) else Verdict(score=0.25)


@register("bank_account")
def validate_bank_account(value: str) -> Result:
    d = digits(value)
    return 8 <= len(d) <= 16 and len(set(d)) > 2


_ID_MOBILE = re.compile(r"^8[1-9]\d{7,10}$")


@lru_cache(maxsize=1)
def _id_fixed_line() -> re.Pattern[str]:
    """Indonesian landline ranges from phonenumbers' metadata, compiled once: the same
    rule as is_valid_number without parsing a PhoneNumber object for every candidate."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("ID")
    assert meta is not None and meta.fixed_line is not None
    return re.compile(meta.fixed_line.national_number_pattern or r"(?!)")


# the number types phonenumbers' is_valid_number accepts
_NUMBER_TYPES = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)  # fmt: skip


@lru_cache(maxsize=512)
def _region_rules(region: str, code: int) -> tuple[tuple[re.Pattern[str], ...], frozenset[int]]:
    """A region's number patterns and possible lengths from phonenumbers' metadata,
    compiled once: the checks of is_valid_number and is_possible_number without
    parsing a PhoneNumber object (about 40 µs) for every candidate."""
    if region == "001":
        meta = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
    else:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return (), frozenset()
    patterns = []
    for name in _NUMBER_TYPES:
        desc = getattr(meta, name, None)
        if desc is not None and desc.national_number_pattern:
            patterns.append(re.compile(desc.national_number_pattern))
    general = meta.general_desc
    return tuple(patterns), frozenset(general.possible_length or ()) if general else frozenset()


def _international(d: str) -> bool | None:
    """Digits after "+" or "00": True for a valid number, None for one of a possible
    length in an unknown range, False otherwise."""
    for size in (1, 2, 3):
        code = int(d[:size]) if len(d) > size else 0
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            break
    else:
        return False
    national = d[size:]
    possible = False
    for region in regions:
        patterns, lengths = _region_rules(region, code)
        if len(national) in lengths:
            possible = True
            if any(p.fullmatch(national) for p in patterns):
                return True
    return None if possible else False


@register("phone")
def validate_phone(value: str) -> Result:
    d = digits(value)
    stripped = value.lstrip("( ")
    international = stripped.startswith("+") or stripped.startswith("00")
    if international and d.startswith(("62", "0062")):
        # an Indonesian number written internationally gets the same checks as one
        # written with 0; parsing with phonenumbers costs about 50 µs a number
        national = d[4:] if d.startswith("0062") else d[2:]
        if _ID_MOBILE.match(national) or (
            8 <= len(national) <= 11 and _id_fixed_line().fullmatch(national) is not None
        ):
            return True
    if international:
        # "+44 (0)20 ...": the bracketed trunk zero is not dialled from abroad
        d = digits(value.replace("(0)", "", 1))
        verdict = _international(d[2:] if stripped.startswith("00") else d)
        # a number written with "+" is one even when its range is unknown to the metadata
        if verdict is None:
            return Verdict(score=0.5) if stripped.startswith("+") else False
        return verdict
    if d.startswith("62"):
        national = d[2:]
    elif d.startswith("0"):
        national = d[1:]
    else:
        return False
    if _ID_MOBILE.match(national):
        return True
    if national.startswith("8"):
        return False
    return 8 <= len(national) <= 11 and _id_fixed_line().fullmatch(national) is not None


@register("ip")
def validate_ip(value: str) -> Result:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (addr.version == 4 and value.count(".") != 3)


_MONTHS = {
    m: i + 1
    for names in (
        "januari februari maret april mei juni juli agustus september oktober november desember",
        "january february march april may june july august september october november december",
        "jan feb mar apr may jun jul aug sep oct nov dec",
        "jan feb mar apr mei jun jul agu sep okt nov des",
    )
    for i, m in enumerate(names.split())
}
_NUM_DATE = re.compile(r"(\d{1,4})[-/. ](\d{1,2})[-/. ](\d{2,4})")
_WORD_DATE = re.compile(r"(\d{1,2})(?:\s+|-)([A-Za-z]+)\.?,?(?:\s+|-)(\d{4})")
_EN_DATE = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")


def _plausible(year: int, month: int, day: int) -> bool:
    if year < 100:
        year += 1900 if year > 30 else 2000
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return 1900 <= born.year <= dt.date.today().year


@register("date")
def validate_date(value: str) -> Result:
    if m := _NUM_DATE.fullmatch(value):
        a, b, c = (int(x) for x in m.groups())
        if len(m.group(1)) == 4:
            return _plausible(a, b, c)
        return _plausible(c, b, a) or _plausible(c, a, b)
    if m := _WORD_DATE.fullmatch(value):
        month = _MONTHS.get(m.group(2).lower())
        return month is not None and _plausible(int(m.group(3)), month, int(m.group(1)))
    if m := _EN_DATE.fullmatch(value):
        month = _MONTHS.get(m.group(1).lower())
        return month is not None and _plausible(int(m.group(3)), month, int(m.group(2)))
    return False


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@register("high_entropy")
def validate_entropy(value: str) -> Result:
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return len(value) >= 16 and classes >= 2 and shannon_entropy(value) >= 3.3


@register("password")
def validate_password(value: str) -> Result:
    # "password saya lupa" is a complaint, not a password: reject plain dictionary words
    # in lower case; real passwords mix classes or carry digits/symbols.
    core = value.rstrip(".,")
    if core.lower() in _PASSWORD_NOISE or len(core) < 4:
        return False
    if core.isalpha() and core.islower() and len(core) < 12:
        return False
    return Verdict(trim_end=len(value) - len(core))


_PASSWORD_NOISE = frozenset(
    [
        "saya",
        "anda",
        "kamu",
        "nya",
        "baru",
        "lama",
        "lupa",
        "salah",
        "benar",
        "sudah",
        "belum",
        "tidak",
        "bisa",
        "yang",
        "untuk",
        "reset",
        "your",
        "my",
        "the",
        "is",
        "was",
        "has",
        "have",
        "been",
        "not",
        "wrong",
        "forgot",
        "expired",
        "changed",
        "ganti",
        "kami",
        "dia",
    ]
)

_PERSONAL_PARAMS = frozenset(
    [
        "email", "e-mail", "mail", "phone", "hp", "no_hp", "nohp", "tel", "telp",
        "telepon", "wa", "whatsapp", "msisdn", "mobile", "name", "nama", "fullname",
        "full_name", "first_name", "last_name", "nik", "ktp", "npwp", "token",
        "access_token", "auth", "key", "apikey", "api_key", "password", "pass",
        "pwd", "user", "username", "userid", "user_id", "uid", "customer", "dob",
        "alamat", "address", "session", "sessionid", "sid", "id_token", "code"
    ]
)  # fmt: skip


@register("personal_url")
def validate_url(value: str) -> Result:
    # sentence punctuation after a URL is not part of it ("see https://x/?a=b.")
    core = value.rstrip(".,;:!?)]}'\"")
    trim = len(value) - len(core)
    value = core
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.query:
        return False
    for key, val in parse_qsl(parts.query, keep_blank_values=False):
        k = key.lower()
        if k in _PERSONAL_PARAMS or "@" in val or (len(digits(val)) >= 9 and val[:1] in "+06"):
            return Verdict(trim_end=trim)
    return False


_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’.-]*")


@register("person_name")
def validate_person(value: str) -> Result:
    """Keep leading tokens that look like a name: capitalised and not a common word,
    or any given name from the gazetteer (chat is often written in lower case)."""
    names = given_names()
    stops = stopwords()
    # fast exit for the common case "saya mau ...": a lower-case first word that is no name
    first = value.split(None, 1)[0].rstrip(".").lower()
    if first in stops or (value[:1].islower() and first not in names):
        return False
    if first in common_words():
        return False  # "sama Jahe 1 kg", "kata Admin"
    end = 0
    kept = 0
    for m in _NAME_TOKEN.finditer(value):
        tok = m.group(0).rstrip(".")
        low = tok.lower()
        # a capitalised word that is also a given name continues a name once one has
        # begun ("Tan Mei Ling": "Mei" is also a month)
        if (low in stops and not (kept and low in names and tok[:1].isupper())) or (
            tok.isupper() and len(tok) <= 4 and low not in names
        ):
            break
        if not (tok[:1].isupper() or low in names):
            break
        kept += 1
        end = m.start() + len(tok)
    if kept == 0:
        return False
    return Verdict(trim_end=len(value) - end)


@register("person_strict")
def validate_person_strict(value: str) -> Result:
    """For an explicit label such as "Nama:": the field holds a name, so capitalised
    words all belong to it ("Lee Min Ho"); a lower-case common word or another field's
    label ends it."""
    names = given_names()
    stops = stopwords()
    end = 0
    kept = 0
    for m in _NAME_TOKEN.finditer(value):
        tok = m.group(0).rstrip(".")
        low = tok.lower()
        if low in _FIELD_WORDS or (low in stops and low not in names and not tok[:1].isupper()):
            break
        if kept == 0 and low in stops and low not in names:
            break
        kept += 1
        end = m.start() + len(tok)
    if kept == 0:
        return False
    return Verdict(trim_end=len(value) - end)


_FIELD_WORDS = frozenset(
    ["email", "hp", "no", "nik", "telp", "tel", "phone", "alamat", "address", "npwp", "kk",
     "tgl", "tanggal", "dob", "wa", "bank", "rek", "norek", "dan", "and", "pt", "cv"]
)  # fmt: skip
