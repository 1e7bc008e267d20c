"""Function recognizers: detection that a regex alone cannot express well.

Each takes the text and its recognizer spec and yields (start, end, score) tuples;
the engine applies context, thresholds and overlap resolution as for patterns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .config import RecognizerSpec
from .names import is_given_name, is_stopword

Span = tuple[int, int, float]
Function = Callable[[str, RecognizerSpec], Iterator[Span]]

FUNCTIONS: dict[str, Function] = {}


def register(name: str) -> Callable[[Function], Function]:
    def deco(fn: Function) -> Function:
        if name in FUNCTIONS:
            raise ValueError(f"function {name!r} registered twice")
        FUNCTIONS[name] = fn
        return fn

    return deco


_CAP_WORD = re.compile(r"(?<![\w@./-])[A-Z][a-z]{1,20}(?![\w@-])")
_NEXT_CAP = re.compile(r"[ ]([A-Z][a-z]{1,20})(?![\w@-])")
_PREV_CAP = re.compile(r"(?<![\w@./-])([A-Z][a-z]{1,20})[ ]$")


def _sentence_start(text: str, pos: int) -> bool:
    """True when pos begins the text, a line or a sentence, where capitals prove nothing."""
    before = text[max(0, pos - 3) : pos].rstrip(" ")
    return not before or before[-1] in ".!?\n:"


@register("gazetteer_person")
def gazetteer_person(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    """A capitalised given name from the gazetteer, extended over following capitalised
    words (family names are too varied to list)."""
    score = float(spec.options.get("score", 0.55))  # type: ignore[arg-type]
    pos = 0
    while m := _CAP_WORD.search(text, pos):
        pos = m.end()
        word = m.group(0)
        if not is_given_name(word) or is_stopword(word):
            continue
        start = m.start()
        # family names come after given names, but a name missing from the gazetteer
        # may come first ("Herman Susanto"): take capitalised words just before it too
        for _ in range(2):
            prev = _PREV_CAP.search(text, max(0, start - 24), start)
            if not prev or is_stopword(prev.group(1)) or _sentence_start(text, prev.start(1)):
                break
            start = prev.start(1)
        end = m.end()
        for _ in range(3):
            nxt = _NEXT_CAP.match(text, end)
            if not nxt or is_stopword(nxt.group(1)):
                break
            end = nxt.end()
        pos = end
        yield start, end, score


# Address: a street marker starts it; it then runs over components while they look
# like parts of an address, and stops at the first ordinary word.
_STREET_START = re.compile(
    r"(?<![\w])(?:(?P<lc>(?i:jl|jln|gg)\b\.?\s?(?=[a-z]))"
    r"|(?i:jl|jln|jalan|gg|gang|komp|kompleks|komplek|perum|perumahan|"
    r"apartemen|apt|ruko|dusun|dsn|gedung|gd|wisma|menara|graha|kp|kampung|desa|ds)\b\.?\s?"
    r"(?=[A-Z0-9])"
    r"|(?i:rt)\.?\s?(?=\d{1,3}\s?/\s?(?i:rw)?\s?\d)"
    r"|\d{1,5}[A-Za-z]?\s+(?=(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|"
    r"Boulevard|Blvd|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|Crescent)\b))"
)
_TOKEN = re.compile(r"[^\s,;]+|[,;]|\s+")
_DIGIT = re.compile(r"\d")
_MARKER = re.compile(
    r"(?<![a-z0-9_])(?:jl|jln|jalan|gg|gang|komp|kompleks|komplek|perum|perumahan|apartemen|apt|"
    r"ruko|dusun|dsn|gedung|gd|wisma|menara|graha|kp|kampung|desa|ds|rt)(?![a-z])"
)
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
    ]
)


def _address_token_ok(tok: str, lenient: bool) -> bool:
    core = tok.strip(".()\"'").lower()
    if not core:
        return True
    if core in _ADDR_WORDS or core.rstrip(".") in _ABBREV or core in _CITIES:
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
    # cheap gate: an Indonesian street marker, or a digit for an English house number
    if _DIGIT.search(text) is None and _MARKER.search(text.lower()) is None:
        return
    pos = 0
    while m := _STREET_START.search(text, pos):
        start = m.start()
        end = m.end()
        last_good = end
        words = 0
        prev = ""
        limit = min(len(text), start + max_len)
        for t in _TOKEN.finditer(text, m.end(), limit):
            tok = t.group(0)
            if tok.isspace():
                if "\n" in tok:
                    break
                continue
            if tok in ",;":
                continue
            after_component = prev in _COMPONENTS
            if not (
                _address_token_ok(tok, lenient=words < 2 and m.group("lc") is not None)
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
        pos = max(last_good, m.end())
        if words >= 1:
            yield start, last_good, score
