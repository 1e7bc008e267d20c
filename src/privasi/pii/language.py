"""Cheap language guess (id, en or mixed) from common function words."""

from __future__ import annotations

import re

from .types import Language

_ID = frozenset(
    [
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "ini",
        "itu",
        "saya",
        "aku",
        "kamu",
        "anda",
        "untuk",
        "dengan",
        "tidak",
        "sudah",
        "belum",
        "bisa",
        "mau",
        "ada",
        "apa",
        "kak",
        "pak",
        "bu",
        "ya",
        "tolong",
        "mohon",
        "terima",
        "kasih",
        "gimana",
        "bagaimana",
        "kapan",
        "sama",
        "juga",
        "atau",
        "nya",
        "dong",
        "deh",
        "sih",
        "kok",
        "aja",
        "udah",
        "gak",
        "nggak",
        "tdk",
        "blm",
        "sdh",
        "kami",
        "kita",
        "akan",
        "karena",
        "jadi",
        "tapi",
        "alamat",
        "nomor",
        "nama",
        "lahir",
        "rekening",
        "pesanan",
        "barang",
        "kirim",
        "makasih",
        "sampai",
        "cek",
        "dong",
        "gan",
        "banget",
        "lagi",
        "min",
        "kakak",
        "mas",
        "mbak",
        "aja",
        "kah",
        "lah",
    ]
)
_EN = frozenset(
    [
        "the",
        "and",
        "to",
        "of",
        "is",
        "are",
        "was",
        "were",
        "you",
        "your",
        "my",
        "i",
        "we",
        "our",
        "it",
        "this",
        "that",
        "for",
        "with",
        "not",
        "have",
        "has",
        "please",
        "thanks",
        "thank",
        "can",
        "could",
        "would",
        "will",
        "hello",
        "hi",
        "dear",
        "regards",
        "name",
        "address",
        "number",
        "order",
        "account",
        "send",
        "what",
        "when",
        "how",
        "why",
        "from",
        "be",
        "been",
    ]
)
_WORD = re.compile(r"[a-z]+")


def detect_language(text: str) -> Language:
    """Count function words of each language; `mixed` when both carry real weight."""
    id_hits = en_hits = 0
    for word in _WORD.findall(text[:2000].lower()):
        if word in _ID:
            id_hits += 1
        elif word in _EN:
            en_hits += 1
    if id_hits == en_hits == 0:
        return "mixed"
    if id_hits and en_hits and min(id_hits, en_hits) / max(id_hits, en_hits) >= 0.25:
        return "mixed"
    return "id" if id_hits > en_hits else "en"
