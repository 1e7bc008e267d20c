"""Names that chat writes without a cue the pattern rules can anchor on.

Indonesian chat often writes names in lower case and with no honorific: "andi, rina
sama bayu ikut", "budi udah transfer belum?", "makasih wulan", "lucy tan". These rules
take a lower-case word as a name only when the gazetteer knows it and its neighbours
say it is one: a second known name, a list of known names, a verb of a subject at the
start of a clause, or a greeting or thanks before it (the `person_cue` validator).
A capitalised word the gazetteer lacks is taken with a person's cue around it
(`person_shape`, below)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .config import RecognizerSpec
from .functions import PERSON_CUES, Span, capitalised_words, register, word_positions
from .names import (
    ambiguous_names,
    common_words,
    given_names,
    known_names,
    never_names,
    stopwords,
)
from .validators import Result, Verdict
from .validators import register as register_validator

_WORD = re.compile(r"[a-z](?<![\w@.'’-].)[a-z]{2,19}(?![\w@'’-])")
# what joins the items of a list of names written in lower case
_JOIN = re.compile(
    r"(?:[ ]?,[ ]?(?:dan[ ]|sama[ ]|and[ ]|&[ ])?|[ ](?:dan|sama|sm|and|&|atau|or)[ ]|[ ]?/[ ]?)"
)
# words a subject's verb phrase starts with: "budi udah transfer", "darto ga bisa"
_SUBJECT_MARKERS = frozenset(
    [
        "udah", "udh", "sudah", "sdh", "blm", "belum", "mau", "minta", "bilang", "ga", "gak",
        "nggak", "ngga", "gk", "tidak", "tdk", "izin", "ijin", "sakit", "cuti", "lagi", "lg",
        "juga", "masih", "baru", "nanti", "tadi", "td", "katanya", "bisa", "jadi", "lembur",
        "datang", "dateng", "pulang", "berangkat", "telat", "nanya", "tanya", "sedang",
        "dah", "ud", "blom", "lupa", "suruh", "nyuruh", "titip", "nitip", "ikut",
        "yang", "yg", "said", "says", "will", "is", "was", "has", "wants", "asked",
    ]
)  # fmt: skip
# a common word that is also a name needs a verb that only a person takes
_STRONG_MARKERS = frozenset(
    ["udah", "udh", "sudah", "sdh", "belum", "blm", "minta", "bilang", "izin", "ijin",
     "cuti", "lembur", "nanya", "katanya", "berangkat", "telat", "said", "says", "asked"]
)  # fmt: skip
_CLAUSE_START = re.compile(r"(?:^|[.!?\n]|,)[ \t]*$")


@register("person_lower")
def person_lower(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    """Lower-case names: pairs of known names, lists of them, clause subjects."""
    score = float(spec.options.get("score", 0.6))  # type: ignore[arg-type]
    # most messages hold no lower-case known name: one C-level split and set test say so
    # (the set holds each name with the punctuation chat glues to it: "rina,", "(rina")
    if _lower_name_forms().isdisjoint(text.split()):
        return
    names = known_names()
    given = given_names()
    stops = stopwords()
    ambiguous = ambiguous_names()
    words = [
        (m.start(), m.end())
        for m in _WORD.finditer(text)
        if m.group(0) in names and m.group(0) not in stops
    ]
    # a pair of known names, the first a given name, is one name: "siti maemunah"
    items: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        s, e = words[i]
        if i + 1 < len(words) and words[i + 1][0] == e + 1 and text[e] == " ":
            first, second = text[s:e], text[e + 1 : words[i + 1][1]]
            if first in given and not (first in ambiguous and second in ambiguous):
                items.append((s, words[i + 1][1]))
                i += 2
                continue
        items.append((s, e))
        i += 1
    pair = [" " in text[s:e] for s, e in items]
    listed = [False] * len(items)
    for k in range(len(items) - 1):
        if _JOIN.fullmatch(text, items[k][1], items[k + 1][0]):
            listed[k] = listed[k + 1] = True
    # a list needs a name that is not also a common word ("bayu dan indah" is no list);
    # one such name vouches for the others ("rosa sama ilham")
    solid = sum(listed[k] and text[s:e] not in ambiguous for k, (s, e) in enumerate(items))
    for k, (s, e) in enumerate(items):
        word = text[s:e]
        common = word in ambiguous
        if pair[k] or (listed[k] and (solid >= 1 or not common)):
            yield s, e, score
        elif not common and _word_before(text, s) in PERSON_CUES:
            yield s, e, score  # "aku sama tasya", "punya rina"
        elif _CLAUSE_START.search(text, max(0, s - 3), s) and text[e : e + 1] == " ":
            marker = _word_after(text, e)
            if marker in _STRONG_MARKERS or (marker in _SUBJECT_MARKERS and not common):
                yield s, e, score


_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@register_validator("person_cue")
def validate_person_cue(value: str) -> Result:
    """After a greeting or thanks ("makasih wulan", "oke Dimas"): a capitalised word
    that is not a common word, or a lower-case one the gazetteer knows and that is not
    also a common word ("oke sip", "thanks banget" stay out)."""
    names = known_names()
    stops = stopwords()
    ambiguous = ambiguous_names()
    end = 0
    kept = 0
    for m in _NAME_TOKEN.finditer(value):
        tok = m.group(0)
        low = tok.lower()
        if low in stops and not (kept and low in names and tok[:1].isupper()):
            break
        if kept == 0 and low in common_words():
            break  # "thanks Team", "oke Siap"
        if tok[:1].isupper():
            if tok.isupper() and len(tok) <= 4 and low not in names:
                break
        elif low not in names or (kept == 0 and (low in ambiguous or len(low) < 3)):
            break
        kept += 1
        end = m.start() + len(tok)
    if kept == 0:
        return False
    return Verdict(trim_end=len(value) - end)


# ---------------------------------------------------------------- unknown capitalised names
# A capitalised word the gazetteer does not know is a name when the words around it say
# so: a verb only a person does after it ("Yessica udah kirim", "Mirabel already paid"),
# a word that introduces a person before it ("minta tolong Soleh", "laptop Hanafi"), a
# possessive ("Stefano's request"), a role in brackets ("Rohana (customer)"), or a join
# to another name ("Gunawan and Tjandra"). Places, brands and everyday words never are.
_CAP_TOKEN = re.compile(r"[A-Z](?<![\w./'’-].)[a-z]{2,15}(?![\w@-])")
_NEXT_STRONG = frozenset(
    [
        "udah", "udh", "sudah", "sdh", "belum", "blm", "bilang", "minta", "nanya", "nitip",
        "izin", "ijin", "cuti", "lembur", "nggak", "ngga", "gak", "ga", "tidak", "tdk", "said",
        "says", "asked", "already", "approved", "handles", "handled", "confirmed", "called",
        "wrote", "reported", "mentioned", "told", "wants", "kirim", "datang", "dateng",
        "pulang", "berangkat", "telat", "sakit", "baru",
    ]
)  # fmt: skip
_NEXT_WEAK = frozenset(["is", "was", "will", "lagi", "mau"])
# English names take no article: "the Lily Collection is", "our Premium Plan will"
_DETERMINERS = frozenset(["the", "a", "an", "our", "your", "my", "their", "this", "that", "its"])
_ROLE_IN_BRACKETS = re.compile(
    r"[ ]\((?i:customer|pelanggan|client|klien|admin|cs|driver|kurir|satpam|staff|staf|"
    r"supervisor|manager|owner|pemilik|penyewa|tenant|guest|tamu|pasien|patient)\)"
)


@lru_cache(maxsize=1)
def _lower_name_forms() -> frozenset[str]:
    """Known names that are not also stopwords ("tanya", "hari"), bare and with the
    punctuation that chat writes against a word, as `str.split` leaves them."""
    forms = set()
    for name in known_names() - stopwords():
        forms.add(name)
        forms.update(name + p for p in _GLUED_AFTER)
        forms.update(p + name for p in _GLUED_BEFORE)
    return frozenset(forms)


_GLUED_AFTER = (",", ".", "!", "?", ":", ";", ")", "..", "...", "!!", "??", "'s", "’s", "~")
_GLUED_BEFORE = ("(", "@", '"', "'")


@lru_cache(maxsize=1)
def _solid_given() -> frozenset[str]:
    """Capitalised given names that are not also everyday words."""
    return frozenset(w[:1].upper() + w[1:] for w in given_names() - ambiguous_names())


@lru_cache(maxsize=1)
def _settled_capitalised() -> frozenset[str]:
    """Capitalised spellings of words this rule never takes or leaves to the gazetteer
    (given names that are also common words stay: they need this rule's cues)."""
    settled = never_names() | (given_names() - ambiguous_names())
    # two letters are no name this rule could tell ("Ok", "Di", "Ya")
    two = {a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "abcdefghijklmnopqrstuvwxyz"}
    return frozenset(w[:1].upper() + w[1:] for w in settled) | two


def _word_before(text: str, pos: int) -> str:
    words = text[max(0, pos - 20) : pos].split()
    return words[-1].strip(".,:;!?()").lower() if words else ""


def _word_after(text: str, pos: int) -> str:
    words = text[pos : pos + 20].split(None, 1)
    return words[0].strip(".,:;!?()").lower() if words else ""


_NEXT_CAP = re.compile(r"[ ]([A-Z][a-z]{1,15})(?![\w@-])")
_PREV_CAP = re.compile(r"(?<![\w@./-])([A-Z][a-z]{1,15})[ ]\Z")
_JOINED_AFTER = re.compile(
    r"(?:,[ ]?|[ ](?:dan|and|&|sama|atau|or)[ ]|[ ]?/[ ]?)([A-Z][a-z]{2,15})"
)
# the name before the join may have several words: its first one is the given name
_JOINED_BEFORE = re.compile(
    r"(?<![\w@./-])([A-Z][a-z]{2,15})(?:[ ][A-Z][a-z]{1,15}){0,2}"
    r"(?:,[ ]?|[ ](?:dan|and|&|sama|atau|or)[ ]|[ ]?/[ ]?)\Z"
)


@register("person_shape")
def person_shape(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    score = float(spec.options.get("score", 0.55))  # type: ignore[arg-type]
    # most messages' capitalised words are sentence openers, places and known names:
    # set operations in C rule them out before any per-word work
    unknown = set(capitalised_words(text)) - _settled_capitalised()
    if "@" in text:
        yield from _mentions(text, score)
    if not unknown:
        return
    never = never_names()
    # "Fotonya", "Barangnya": a common word with the possessive suffix
    found = word_positions(text, (w for w in unknown if not (len(w) > 6 and w.endswith("nya"))))
    runs: list[tuple[int, int]] = []
    for start, end in found:
        if runs and start < runs[-1][1]:
            continue
        # the run of capitalised words around it, stopping at words that are no name
        for _ in range(3):
            nxt = _NEXT_CAP.match(text, end)
            if nxt is None or nxt.group(1).lower() in never:
                break
            end = nxt.end()
        for _ in range(2):
            prev = _PREV_CAP.search(text, max(0, start - 18), start)
            if prev is None or prev.group(1).lower() in never:
                break
            start = prev.start(1)
        if runs and start < runs[-1][1]:
            continue
        if text[start:end].split(" ", 1)[0] in _solid_given():
            continue  # "Emily Turner": a known given name first, the gazetteer's
        runs.append((start, end))
    accepted = [_has_cue(text, s, e) for s, e in runs]
    # joins: "Gunawan and Tjandra" (a known name), "Soleh dan Parjo" (an accepted one)
    anchors = {runs[k] for k, ok in enumerate(accepted) if ok}
    changed = True
    while changed:
        changed = False
        for k, (s, e) in enumerate(runs):
            if accepted[k] is None or accepted[k] or not _near_join(text, s, e):
                continue
            if _joined_to_name(text, s, e, anchors):
                accepted[k] = changed = True
                anchors.add((s, e))
    for k, (s, e) in enumerate(runs):
        if accepted[k]:
            yield s, e, score


def _has_cue(text: str, s: int, e: int) -> bool | None:
    """True when the words around the run say it is a person; None when they say it is
    not (an article before it: English names take none)."""
    before = _word_before(text, s)
    if before in _DETERMINERS:
        return None
    initial = _sentence_start_at(text, s)
    if all(w.lower() in ambiguous_names() for w in text[s:e].split()):
        # "botol Bintang sama kacang": a common word needs a cue before it
        return not initial and before in PERSON_CUES
    after = _word_after(text, e)
    return (
        (not initial and before in PERSON_CUES)
        or after in _NEXT_STRONG
        or (not initial and after in _NEXT_WEAK)
        or text.startswith(("'s", "’s"), e)
        or _ROLE_IN_BRACKETS.match(text, e) is not None
        or (s > 0 and text[s - 1] == "@")
        or _signature_line(text, s, e)
        or (_VOCATIVE_END.match(text, e) is not None and text[max(0, s - 2) : s] == ", ")
    )


_JOINS = (",", " dan ", " and ", " & ", " sama ", " atau ", " or ", "/", " /")


def _near_join(text: str, s: int, e: int) -> bool:
    """A cheap test before the join regexes: a joining word or mark touches the run."""
    if text.startswith(_JOINS, e):
        return True
    before = text[max(0, s - 7) : s]
    return before.endswith(
        (", ", ",", " dan ", " and ", " & ", " sama ", " atau ", " or ", "/", "/ ")
    )


def _joined_to_name(text: str, s: int, e: int, anchors: set[tuple[int, int]]) -> bool:
    given = given_names()
    ambiguous = ambiguous_names()
    for m in (_JOINED_AFTER.match(text, e), _JOINED_BEFORE.search(text, max(0, s - 56), s)):
        if m is None:
            continue
        word = m.group(1).lower()
        if (word in given and word not in ambiguous) or any(
            a <= m.start(1) < b for a, b in anchors
        ):
            return True
    return False


def _mentions(text: str, score: float) -> Iterator[Span]:
    """ "@Ningsih": a mention is a person even when the gazetteer knows the name, since
    the gazetteer leaves words after "@" alone (e-mail addresses have them)."""
    never = never_names()
    pos = text.find("@")
    while pos >= 0:
        if pos == 0 or not text[pos - 1].isalnum():
            m = _CAP_TOKEN.match(text, pos + 1)
            if m is not None and m.group(0).lower() not in never:
                yield m.start(), m.end(), score
        pos = text.find("@", pos + 1)


# ", Sebastian." closing a message: the person it is addressed to
_VOCATIVE_END = re.compile(r"[ \t]*[.!]*[ \t]*$")
_LINE_BEFORE = re.compile(r"(?:^|\n)([^\n]*)\n[ \t]*$")


def _signature_line(text: str, start: int, end: int) -> bool:
    """A name alone on its line under a closing ("Thanks,", "--", a blank line)."""
    if text[end : end + 1] not in ("", "\n") or start == 0:
        return False
    before = _LINE_BEFORE.search(text, max(0, start - 80), start)
    if before is None:
        return False
    line = before.group(1).strip()
    return line in ("", "--", "-", "—") or line.endswith(",")


def _sentence_start_at(text: str, pos: int) -> bool:
    before = text[max(0, pos - 3) : pos].rstrip(" \t")
    return not before or before[-1] in ".!?:\n-"
