"""Function recognizers: detection that a regex alone cannot express well.

Each takes the text and its recognizer spec and yields (start, end, score) tuples;
the engine applies context, thresholds and overlap resolution as for patterns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

from .config import RecognizerSpec
from .names import (
    ambiguous_names,
    common_words,
    given_names,
    known_names,
    stopwords,
)

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


# Regexes here open with a character class, not a look-behind: `re` then skips straight
# to the positions that can start a match (the look-behind follows the first character).
_CAP_WORD = re.compile(r"[A-Z](?<![\w@./-].)[a-z]{1,20}(?![\w@-])")
_NEXT_CAP = re.compile(r"[ ]([A-Z][a-z]{1,20})(?![\w@-])")
_PREV_CAP = re.compile(r"(?<![\w@./-])([A-Z][a-z]{1,20})[ ]$")


def _sentence_start(text: str, pos: int, end: int) -> bool:
    """True when pos begins the text, a line or a sentence, where capitals prove nothing.
    For a name alone on its line (a signature, "1. Parulian Hutapea") ending at `end`, the
    start of the line or item does not count: there the capital is part of the name."""
    before = text[max(0, pos - 4) : pos].rstrip(" \t")
    if not before or before[-1] == "\n" or _LIST_NUMBER.search(before) is not None:
        return _LINE_END.match(text, end) is None
    return before[-1] in ".!?:"


_LIST_NUMBER = re.compile(r"(?:^|\n)\d{1,2}[.)]$")
_LINE_END = re.compile(r"[ \t]*[.,]?[ \t]*(?:\n|$)")
# Balinese names open with a one- or two-letter marker ("I Wayan", "Ni Luh") that the
# capitalised-word rules cannot take on their own
_BALI_PREFIX = ("I ", "Ni ")
_BALI_NAMES = frozenset(
    [
        "wayan", "made", "nyoman", "ketut", "putu", "kadek", "komang", "gede", "nengah",
        "luh", "gusti", "dewa", "desak", "ayu"
    ]
)  # fmt: skip
# a known name right after one of these is the name of a place or a business ("Villa
# Kenanga", "Idul Fitri", "Toko Budi"), not of a person
_PLACE_NOUNS = frozenset(
    [
        "idul", "villa", "vila", "hotel", "homestay", "warung", "toko", "kedai", "kopi",
        "cafe", "resto", "restoran", "salon", "bengkel", "apotek", "apotik", "klinik",
        "butik", "studio", "galeri", "laundry", "kos", "kost", "taman", "pantai", "gunung",
        "pulau", "bandara", "stasiun", "terminal", "pasar", "masjid", "gereja", "pura",
        "vihara", "klenteng", "universitas", "sekolah", "pondok", "perumahan", "gedung",
        "wisma", "graha", "menara", "jalan", "jl", "jln", "gang", "gg", "kampung", "desa",
        "kota", "kabupaten", "kecamatan", "kelurahan", "rs", "rsud", "puskesmas", "pt",
        "cv", "ud", "yayasan", "bank", "kartu", "botol", "merek", "merk", "brand", "produk",
        "kapal", "kereta", "bus", "film", "lagu", "band", "grup", "tim", "team"
    ]
)  # fmt: skip


def _after_place_noun(text: str, pos: int) -> bool:
    if pos < 2 or text[pos - 1] != " ":
        return False
    words = text[max(0, pos - 16) : pos - 1].rsplit(None, 1)
    return bool(words) and words[-1].rstrip(".").lower() in _PLACE_NOUNS


_NEXT_WORD = re.compile(r"[ ]([A-Za-z]+)")
_PREV_CUE_WORD = re.compile(r"([A-Za-z]+)[.,:;()\"'-]{0,2}[ ]{1,2}\Z")
# words that introduce a person: "minta tolong Soleh", "laptop Hanafi", "si Boim"
PERSON_CUES = frozenset(
    [
        "sama", "sm", "bareng", "kata", "bilang", "bilangin", "tanya", "tanyain", "tanyakan",
        "ajak", "suruh", "panggil", "panggilin", "hubungi", "telpon", "telepon", "nelpon",
        "ditelpon", "ditelepon", "kabari", "kabarin", "titip", "nitip", "punya", "milik", "si",
        "oleh", "by", "ask", "asked", "tell", "told", "spoke", "thank", "thanks", "makasih",
        "cc", "pic", "dear", "dengan", "dgn", "per", "rumah", "laptop", "hp", "motor", "mobil",
        "gaji", "laporan", "undangan", "nikahan", "kado", "anak", "istri", "suami", "tas",
        "kamar", "akun", "rekening", "alamat", "ktp", "foto", "konfirmasi", "persetujuan",
        "driver", "kurir", "courier", "teknisi", "technician", "satpam", "sopir", "supir",
        "colleague", "rekan", "supervisor", "agent", "backup", "backup-nya", "pengganti",
    ]
)  # fmt: skip
# after these (or the words above) a lone name that is also a common word is a name
_PERSON_PREPOSITIONS = PERSON_CUES | frozenset(
    ["to", "from", "with", "for", "and", "or", "call", "dari", "untuk", "buat", "ke", "dan",
     "atau", "kepada", "kasih", "wa"]
)  # fmt: skip
# verbs that only a person does, after a sentence-initial name ("Bayu will cover ...")
_PERSON_VERBS = frozenset(
    ["udah", "sudah", "belum", "minta", "bilang", "izin", "cuti", "lembur", "berangkat",
     "said", "says", "asked", "will", "wrote", "called", "confirmed", "approved"]
)  # fmt: skip


_DETERMINERS = frozenset(["the", "a", "an", "our", "your", "their", "this", "that", "its"])


_DETERMINER_ENDS = tuple(f" {d} " for d in _DETERMINERS) + tuple(f"\n{d} " for d in _DETERMINERS)


def _after_determiner(text: str, start: int) -> bool:
    # one C-level suffix test on the few characters before (a space stands in for the
    # start of the text)
    before = " " + text[:start] if start < 7 else text[start - 7 : start]
    return before.lower().endswith(_DETERMINER_ENDS)


def _ambiguous_name_ok(text: str, start: int, end: int) -> bool:
    """A lone given name that is also a common word ("Grace period", "kartu Tri", "Sari
    Roti") counts only after a word that introduces a person ("closed by Grace", "WA
    Budi") or before a verb that only a person does ("Bayu will cover")."""
    nxt = _NEXT_WORD.match(text, end)
    if nxt is not None:
        word = nxt.group(1)
        if word.lower() in _PERSON_VERBS:
            return True
        if word[:1].isupper() and word.lower() in stopwords():
            return False  # a brand or a place: "Sari Roti", "Bintang Radler"
    if _sentence_start(text, start, end):
        return False
    # the word before, past punctuation: "driver, Bayu", "cc: Putri", "(dari Sari)"
    prev = _PREV_CUE_WORD.search(text, max(0, start - 24), start)
    return prev is not None and prev.group(1).lower() in _PERSON_PREPOSITIONS


def _with_bali_prefix(text: str, start: int) -> int:
    for prefix in _BALI_PREFIX:
        s = start - len(prefix)
        if s >= 0 and text.startswith(prefix, s) and (s == 0 or not text[s - 1].isalnum()):
            first = text[start : start + 8].split(" ", 1)[0].lower()
            return s if first in _BALI_NAMES else start
    return start


# the capitalised words of the last message, shared by the name rules that all start
# from them (one tuple, replaced whole, so threads never see a mixed pair)
_CAPS_MEMO: tuple[str | None, list[str]] = (None, [])


def capitalised_words(text: str) -> list[str]:
    """The capitalised words of `text` (not after "@", ".", "/" or a letter)."""
    global _CAPS_MEMO
    memo = _CAPS_MEMO
    if memo[0] is text:
        return memo[1]
    caps = _CAP_WORD.findall(text)
    _CAPS_MEMO = (text, caps)
    return caps


_NOT_BEFORE = frozenset("@./-_")
_NOT_AFTER = frozenset("@-_")


def word_positions(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Where each word occurs as a whole word (as _CAP_WORD finds it), in text order:
    `str.find` per word found is cheaper than a regex pass over every capital, for a
    few words; for many, each `find` would rescan the text (quadratic), so one pass."""
    words = set(words)
    if len(words) > 6:
        return [(m.start(), m.end()) for m in _CAP_WORD.finditer(text) if m.group(0) in words]
    found = []
    for word in words:
        pos = text.find(word)
        while pos >= 0:
            end = pos + len(word)
            if (pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in _NOT_BEFORE)) and (
                end == len(text) or not (text[end].isalnum() or text[end] in _NOT_AFTER)
            ):
                found.append((pos, end))
            pos = text.find(word, end)
    found.sort()
    return found


@lru_cache(maxsize=1)
def _capitalised_given() -> frozenset[str]:
    return frozenset(w[:1].upper() + w[1:] for w in given_names() - stopwords())


@register("gazetteer_person")
def gazetteer_person(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    """A capitalised given name from the gazetteer, extended over following capitalised
    words (family names are too varied to list)."""
    score = float(spec.options.get("score", 0.55))  # type: ignore[arg-type]
    # most messages hold no known name: one set test in C says so
    hits = _capitalised_given().intersection(capitalised_words(text))
    if not hits:
        return
    stops = stopwords()
    known = known_names()
    ambiguous = ambiguous_names()
    common = common_words()
    size = len(text)
    pos = 0
    # only where the known names are, not over every capitalised word
    for first, first_end in word_positions(text, hits):
        if first < pos:
            continue
        low = text[first:first_end].lower()
        start = first
        end = first_end
        for _ in range(3):
            # the regex only when a capital follows the space: the common case is cheaper
            if end + 1 >= size or text[end] != " " or not text[end + 1].isupper():
                break
            nxt = _NEXT_CAP.match(text, end)
            # a family name that is also a common word continues a name ("Azka Ramadhan")
            nxt_low = nxt.group(1).lower() if nxt else ""
            if not nxt or ((nxt_low in stops or nxt_low in common) and nxt_low not in known):
                break
            end = nxt.end()
        if _after_determiner(text, start):
            continue  # "the Lily Collection": English names take no article
        # "Putri Duyung Cottage" opening a sentence: a common word and words the gazetteer
        # does not know; "Putri Ayu" or "dengan Putri Duyung" still count
        if (
            low in ambiguous
            and not _ambiguous_name_ok(text, start, end)
            and (
                end == first_end
                or (
                    _sentence_start(text, start, end)
                    and not any(w.lower() in known for w in text[first_end:end].split())
                )
            )
        ):
            continue
        # family names come after given names, but a name missing from the gazetteer
        # may come first ("Herman Susanto"): take capitalised words just before it too
        for _ in range(2):
            if start < 3 or text[start - 1] != " " or not text[start - 2].islower():
                break
            prev = _PREV_CAP.search(text, max(0, start - 24), start)
            if (
                not prev
                or prev.group(1).lower() in stops
                or _sentence_start(text, prev.start(1), end)
            ):
                break
            start = prev.start(1)
        if _after_place_noun(text, start):
            continue
        start = _with_bali_prefix(text, start)
        pos = end
        yield start, end, score


# A list of people ("Peserta: A, B, dan C"; "Tembusan:\n1. A\n2. B"): names the gazetteer
# misses are taken from their company in the list.
_ITEM_REST = r"[a-z'’-]{1,20}(?:[ ][A-Z][a-z'’-]{1,20}){0,3}"
_ITEM = rf"[A-Z]{_ITEM_REST}"
_SEP = (
    r"(?:,[ ]?(?:dan[ ]|and[ ])?|[ ](?:dan|and|&)[ ]|;[ ]?|[ \t]*\n[ \t]*(?:\d{1,2}[.)]|[-•*])[ ])"
)
_LIST = re.compile(rf"[A-Z](?<![\w@./-].){_ITEM_REST}(?:{_SEP}{_ITEM}){{1,30}}(?![\w@-])")
_ITEM_RE = re.compile(_ITEM)
_SEP_CAP = re.compile(r"[,;&\n][ \t]?(?:\d{1,2}[.)][ ]|[-•*][ ])?[A-Z]")
_LIST_LABEL = re.compile(
    r"(?i:peserta|tembusan|attendees|participants|daftar nama|nama-nama|anggota|members|"
    r"panitia|pengurus|undangan|invitees|penerima|recipients|cc)[^\n]{0,30}:[ \t]*\n?"
    r"(?:[ \t]*\d{1,2}[.)][ ])?$"
)


@register("person_list")
def person_list(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    """Each item of a list of names, when the list is introduced as one (peserta,
    tembusan, attendees ...) or at least two of its items hold a known given name."""
    score = float(spec.options.get("score", 0.6))  # type: ignore[arg-type]
    # most messages have no separator before a capital at all: one cheap search says so
    if _SEP_CAP.search(text) is None and " dan " not in text and " and " not in text:
        return
    names = given_names()
    stops = stopwords()
    for lst in _LIST.finditer(text):
        items = []
        known = 0
        for item in _ITEM_RE.finditer(text, lst.start(), lst.end()):
            end = item.start()
            has_name = False
            for tok in re.finditer(r"[A-Za-z'’-]+", item.group(0)):
                low = tok.group(0).lower()
                if low in stops and low not in names:
                    break
                has_name = has_name or low in names
                end = item.start() + tok.end()
            if end > item.start():
                items.append((_with_bali_prefix(text, item.start()), end))
                known += has_name
        if not items:
            continue
        labelled = _LIST_LABEL.search(text, max(0, lst.start() - 60), lst.start()) is not None
        if known >= 2 or labelled:
            for s, e in items:
                yield s, e, score
