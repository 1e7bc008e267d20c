"""The address recognizer: a street marker starts an address, which then runs over
components while they look like parts of one (see ANNOTATION.md for the span)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .config import RecognizerSpec
from .functions import Span, register
from .names import is_stopword, places

# Address: a street marker starts it; it then runs over components while they look
# like parts of an address, and stops at the first ordinary word.
# Indonesian street markers, found in the lower-cased text; what follows decides:
# a capital or digit starts an address, lower case only after jl/jln/gg ("jl. kenari")
_MARKERS = [
    "jl", "jln", "jalan", "gg", "gang", "komp", "kompleks", "komplek", "perum", "perumahan",
    "apartemen", "apt", "ruko", "dusun", "dsn", "gedung", "gd", "wisma", "menara", "graha",
    "kp", "kampung", "desa", "ds", "rt",
]  # fmt: skip


def _word_alternatives(words: list[str]) -> str:
    """`w1|w2|...` longest first, each alternative opening with its first letter and
    then refusing a letter, digit or underscore before it."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(f"{w[0]}(?<![a-z0-9_].){re.escape(w[1:])}" for w in ordered)


_MARKER_START = re.compile(rf"(?P<m>{_word_alternatives(_MARKERS)})(?![a-z])\.?\s?")
_LENIENT_MARKERS = frozenset(["jl", "jln", "gg"])
_RT_RW = re.compile(r"\d{1,3}\s?/\s?(?:rw)?\s?\d")
_EN_START = re.compile(
    r"\d(?<![\w].)\d{0,4}[A-Za-z]?\s+(?=(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Avenue|Ave|Road|Rd|"
    r"Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|Crescent)\b)"
)


def _street_starts(text: str) -> list[tuple[int, int, bool]]:
    """(start, end of marker, lenient) for every place an address may begin."""
    lower = text.lower()
    if len(lower) != len(text):
        lower = text.translate({c: c + 32 for c in range(65, 91)})
    found = []
    for m in _MARKER_START.finditer(lower):
        nxt = text[m.end() : m.end() + 1]
        marker = m.group("m")
        if marker == "rt":
            if _RT_RW.match(lower, m.end()):
                found.append((m.start(), m.end(), False))
        elif nxt.isupper() or nxt.isdigit():
            found.append((m.start(), m.end(), False))
        elif nxt.islower() and marker in _LENIENT_MARKERS:
            found.append((m.start(), m.end(), True))
    if _DIGIT.search(text) is not None:
        found.extend((m.start(), m.end(), False) for m in _EN_START.finditer(text))
    found.sort()
    return found


_TOKEN = re.compile(r"[^\s,;]+|[,;]|\s+")
_DIGIT = re.compile(r"\d")
_ABBREV: frozenset[str] = frozenset(
    [
        "jl",
        "jln",
        "gg",
        "no",
        "rt",
        "rw",
        "kel",
        "kec",
        "kab",
        "ds",
        "dsn",
        "komp",
        "perum",
        "blk",
        "prov",
        "kp",
        "kav",
        "lt",
        "st",
        "ave",
        "rd",
        "ln",
        "blvd",
        "dr",
        "ct",
        "pl",
        "apt",
    ]
)
_ADDR_WORDS = frozenset(
    [
        "no",
        "nomor",
        "rt",
        "rw",
        "kel",
        "kelurahan",
        "kec",
        "kecamatan",
        "kab",
        "kabupaten",
        "kota",
        "desa",
        "dusun",
        "blok",
        "blk",
        "kav",
        "lt",
        "lantai",
        "prov",
        "provinsi",
        "kp",
        "kampung",
        "gang",
        "gg",
        "jl",
        "jalan",
        "raya",
        "komplek",
        "perum",
        "rumah",
        "unit",
        "tower",
        "street",
        "st",
        "avenue",
        "ave",
        "road",
        "rd",
        "lane",
        "ln",
        "boulevard",
        "blvd",
        "drive",
        "dr",
        "way",
        "court",
        "ct",
        "place",
        "pl",
        "suite",
        "apt",
        "apartment",
        "floor",
    ]
)
_ABBREV |= frozenset(
    ["jend", "jen", "letjen", "mayjen", "brigjen", "kol", "ir", "kh", "prof", "gd"]
)
# common words that are also parts of street and area names when capitalised
_PLACE_WORDS = frozenset(
    ["baru", "lama", "indah", "timur", "barat", "utara", "selatan", "tengah", "dalam", "luar",
     "asri", "jaya", "permai", "agung", "besar", "kecil"]
)  # fmt: skip
_POSTAL = re.compile(r"\d{5}")
# after these, the next capitalised word is a place name even if it is a common word
_COMPONENTS = frozenset(
    ["kel", "kelurahan", "kec", "kecamatan", "kab", "kabupaten", "kota", "desa"]
)
_SENTENCE_END = re.compile(r"[.!?]$")


_CITIES = frozenset(
    [
        "jakarta",
        "bandung",
        "surabaya",
        "medan",
        "semarang",
        "yogyakarta",
        "jogja",
        "bali",
        "denpasar",
        "makassar",
        "malang",
        "bogor",
        "depok",
        "tangerang",
        "bekasi",
        "solo",
        "palembang",
        "pekanbaru",
        "batam",
        "pontianak",
        "balikpapan",
        "samarinda",
        "manado",
        "sleman",
        "bantul",
        "cimahi",
        "indonesia",
        "london",
        "tokyo",
        "osaka",
        "sydney",
        "singapore",
        "singapura",
        "malaysia",
    ]
)


def _address_token_ok(tok: str, lenient: bool) -> bool:
    core = tok.strip(".()\"'").lower()
    if not core:
        return True
    if core in _ADDR_WORDS or core.rstrip(".") in _ABBREV or core in _CITIES or core in places():
        return True
    if any(ch.isdigit() for ch in core):
        return len(core) <= 12
    if tok[:1].isupper():
        return core in _PLACE_WORDS or not is_stopword(core)
    # a street written in lower case ("jl. kenari no 3"): its name may be lower case too
    return lenient and not is_stopword(core)


@register("address")
def address(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    score = float(spec.options.get("score", 0.75))  # type: ignore[arg-type]
    max_len = int(spec.options.get("max_length", 200))  # type: ignore[call-overload]
    pos = 0
    for start, marker_end, lenient in _street_starts(text):
        if start < pos:
            continue
        last_good = marker_end
        words = 0
        prev = ""
        limit = min(len(text), start + max_len)
        for t in _TOKEN.finditer(text, marker_end, limit):
            tok = t.group(0)
            if tok.isspace():
                if "\n" in tok:
                    break
                continue
            if tok in ",;":
                continue
            after_component = prev in _COMPONENTS
            if not (
                _address_token_ok(tok, lenient=words < 2 and lenient)
                or (after_component and tok[:1].isupper())
                or (tok.isupper() and 2 <= len(tok.rstrip(".,")) <= 3)
            ):
                break
            prev = tok.rstrip(".").lower()
            words += 1
            last_good = t.end()
            core = tok.rstrip(".").lower()
            if _SENTENCE_END.search(tok) and core not in _ABBREV and not _POSTAL.fullmatch(core):
                last_good = t.end() - 1
                break
            if _POSTAL.fullmatch(tok.rstrip(".")):
                last_good = t.start() + 5
                break
        pos = max(last_good, marker_end)
        if words >= 1:
            yield start, last_good, score
