"""Names that chat writes without a cue the pattern rules can anchor on.

Indonesian chat often writes names in lower case and with no honorific: "andi, rina
sama bayu ikut", "budi udah transfer belum?", "makasih wulan", "lucy tan". These rules
take a lower-case word as a name only when the gazetteer knows it and its neighbours
say it is one: a second known name, a list of known names, a verb of a subject at the
start of a clause, or a greeting or thanks before it (the `person_cue` validator)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .config import RecognizerSpec
from .functions import Span, register
from .names import ambiguous_names, common_words, given_names, known_names, stopwords
from .validators import Result, Verdict
from .validators import register as register_validator

# punctuation becomes a space, so one C-level split yields the message's words
_SPLIT_TABLE = str.maketrans({c: " " for c in ".,;:!?()[]{}\"'`/&@#*~_+=<>|\\\n\t\r"})
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
        "lagi", "dah", "ud", "blom", "lupa", "suruh", "nyuruh", "titip", "nitip", "ikut",
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
    names = known_names()
    # most messages hold no lower-case known name: one C-level set intersection says so
    if names.isdisjoint(text.translate(_SPLIT_TABLE).split()):
        return
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
    # a list needs a name that is not also a common word ("bayu dan indah" is no list)
    solid = sum(listed[k] and text[s:e] not in ambiguous for k, (s, e) in enumerate(items))
    # ("rosa sama ilham": one name that is not a common word vouches for the other)
    for k, (s, e) in enumerate(items):
        word = text[s:e]
        common = word in ambiguous
        if pair[k] or (listed[k] and (solid >= 1 or not common)):
            yield s, e, score
        elif not common and _word_before(text, s) in _PREV_CUES:
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
_PREV_CUES = frozenset(
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
_JOIN_WORDS = re.compile(r"(?:,[ ]?|[ ](?:dan|and|&|sama|atau|or)[ ]|[ ]?/[ ]?)")


def _shape_sequences(text: str, never: frozenset[str]) -> list[list[tuple[int, int]]]:
    """Runs of capitalised words joined by single spaces, cut at words that are never
    part of a name (common words, places, brands)."""
    runs: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for m in _CAP_TOKEN.finditer(text):
        low = m.group(0).lower()
        s = m.start()
        if s > 1 and text[s - 1] == "@" and text[s - 2].isalnum():
            continue  # the domain of an e-mail address
        # "Fotonya", "Barangnya": a common word with the possessive suffix
        if low in never or (len(low) > 6 and low.endswith("nya")):
            if current:
                runs.append(current)
            current = []
            continue
        if current and not (m.start() == current[-1][1] + 1 and text[m.start() - 1] == " "):
            runs.append(current)
            current = []
        current.append((m.start(), m.end()))
    if current:
        runs.append(current)
    return runs


def _word_before(text: str, pos: int) -> str:
    words = text[max(0, pos - 20) : pos].split()
    return words[-1].strip(".,:;!?()").lower() if words else ""


def _word_after(text: str, pos: int) -> str:
    words = text[pos : pos + 20].split(None, 1)
    return words[0].strip(".,:;!?()").lower() if words else ""


@register("person_shape")
def person_shape(text: str, spec: RecognizerSpec) -> Iterator[Span]:
    score = float(spec.options.get("score", 0.55))  # type: ignore[arg-type]
    if _CAP_TOKEN.search(text) is None:
        return
    never = stopwords() | common_words()
    given = given_names()
    ambiguous = ambiguous_names()
    runs = _shape_sequences(text, never)
    if not runs:
        return
    spans = [(run[0][0], run[-1][1]) for run in runs]
    # a run opening with a known given name is the gazetteer's; it still anchors joins
    known = [
        text[s:e].split(" ", 1)[0].lower() in given
        and text[s:e].split(" ", 1)[0].lower() not in ambiguous
        for s, e in spans
    ]
    accepted = [False] * len(spans)
    for k, (s, e) in enumerate(spans):
        if known[k]:
            continue
        initial = _sentence_start_at(text, s)
        before = _word_before(text, s)
        after = _word_after(text, e)
        if before in _DETERMINERS:
            continue
        if all(w.lower() in ambiguous for w in text[s:e].split()):
            # "botol Bintang sama kacang": a common word needs a cue before it
            accepted[k] = not initial and before in _PREV_CUES
            continue
        if (
            (not initial and before in _PREV_CUES)
            or _signature_line(text, s, e)
            or (_VOCATIVE_END.match(text, e) is not None and text[max(0, s - 2) : s] == ", ")
            or after in _NEXT_STRONG
            or (not initial and after in _NEXT_WEAK)
            or text.startswith(("'s", "’s"), e)
            or _ROLE_IN_BRACKETS.match(text, e) is not None
            or (s > 0 and text[s - 1] == "@")
        ):
            accepted[k] = True
    # joins: "Gunawan and Tjandra", "Kamala and Torres" after an accepted name
    for _ in range(2):
        for k in range(len(spans) - 1):
            left, right = spans[k], spans[k + 1]
            if _JOIN_WORDS.fullmatch(text, left[1], right[0]) is None:
                continue
            if (known[k] or accepted[k]) and not known[k + 1]:
                accepted[k + 1] = True
            if (known[k + 1] or accepted[k + 1]) and not known[k]:
                accepted[k] = True
    for k, (s, e) in enumerate(spans):
        # "@Ningsih": a mention is a person even when the gazetteer knows the name,
        # since the gazetteer leaves words after "@" alone (e-mail addresses)
        if (accepted[k] and not known[k]) or (known[k] and s > 0 and text[s - 1] == "@"):
            yield s, e, score


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
