"""Operators that turn detected values into something safe to pass on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .mapping import InMemoryMappingStore, MappingStore
from .types import Finding


class Operator:
    name = "operator"

    def apply(self, value: str, entity_type: str) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Redact(Operator):
    """Remove the value; `replacement` lets a caller leave a visible mark."""

    name = "redact"

    def __init__(self, replacement: str = "") -> None:
        self.replacement = replacement

    def apply(self, value: str, entity_type: str) -> str:
        return self.replacement


class Mask(Operator):
    """Hide letters and digits except the last `keep_last`; separators stay so the
    shape remains readable (`****-****-7890`)."""

    name = "mask"

    def __init__(self, keep_last: int = 4, char: str = "*") -> None:
        if keep_last < 0 or len(char) != 1:
            raise ValueError("keep_last must be >= 0 and char a single character")
        self.keep_last = keep_last
        self.char = char

    def apply(self, value: str, entity_type: str) -> str:
        alnum = sum(ch.isalnum() for ch in value)
        to_hide = max(0, alnum - self.keep_last)
        # short values would be fully revealed by keep_last: hide them entirely
        if alnum <= self.keep_last * 2:
            to_hide = alnum
        out = []
        for ch in value:
            if ch.isalnum() and to_hide > 0:
                out.append(self.char)
                to_hide -= 1
            else:
                out.append(ch)
        return "".join(out)


class Hash(Operator):
    """Keyed HMAC-SHA256: equal values give equal tokens, and without the key the token
    cannot be brute-forced back from the small space of phone numbers or NIKs."""

    name = "hash"

    def __init__(self, key: bytes, length: int = 16) -> None:
        if len(key) < 16:
            raise ValueError("the HMAC key must be at least 16 bytes")
        self._key = key
        self.length = length

    def apply(self, value: str, entity_type: str) -> str:
        digest = hmac.new(self._key, f"{entity_type}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[: self.length]

    def __repr__(self) -> str:
        return f"Hash(length={self.length})"


_ENC_PREFIX = "enc:"


class Encrypt(Operator):
    """AES-GCM with a random nonce; the entity type is bound as associated data.
    Reverse with `decrypt_token` and the same key."""

    name = "encrypt"

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("AES key must be 16, 24 or 32 bytes")
        self._aead = AESGCM(key)

    def apply(self, value: str, entity_type: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, value.encode(), entity_type.encode())
        return _ENC_PREFIX + base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")

    def __repr__(self) -> str:
        return "Encrypt()"


def decrypt_token(token: str, key: bytes, entity_type: str) -> str:
    if not token.startswith(_ENC_PREFIX):
        raise ValueError("not an encrypted token")
    raw = token[len(_ENC_PREFIX) :]
    blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], entity_type.encode()).decode()
    except InvalidTag:
        raise ValueError("token does not decrypt with this key and entity type") from None


class Pseudonymize(Operator):
    """Typed placeholders (`<PERSON_1>`) kept in a mapping store, so one value gets
    one placeholder across a whole conversation and `restore` can undo it."""

    name = "pseudonymize"

    def __init__(self, store: MappingStore | None = None, conversation: str | None = None):
        self.store: MappingStore = store if store is not None else InMemoryMappingStore()
        self.conversation = conversation or uuid.uuid4().hex

    def apply(self, value: str, entity_type: str) -> str:
        return self.store.placeholder_for(self.conversation, entity_type, value)

    def __repr__(self) -> str:
        return f"Pseudonymize(conversation={self.conversation!r})"


class Replace(Pseudonymize):
    """Typed placeholders numbered within one text (a fresh mapping each call), or a
    fixed `new_value` for every match."""

    name = "replace"

    def __init__(self, new_value: str | None = None) -> None:
        super().__init__()
        self.new_value = new_value

    def apply(self, value: str, entity_type: str) -> str:
        if self.new_value is not None:
            return self.new_value
        return super().apply(value, entity_type)


class Keep(Operator):
    name = "keep"

    def apply(self, value: str, entity_type: str) -> str:
        return value


@dataclass(frozen=True, slots=True)
class Replacement:
    start: int
    end: int
    entity_type: str
    operator: str

    def __repr__(self) -> str:
        return f"Replacement({self.start}, {self.end}, {self.entity_type!r}, {self.operator!r})"


@dataclass
class Anonymized:
    text: str
    items: list[Replacement] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Anonymized(items={self.items!r})"


def anonymize(
    text: str,
    findings: Sequence[Finding],
    operators: Mapping[str, Operator] | None = None,
    default: Operator | None = None,
) -> Anonymized:
    """Apply an operator per entity type (`DEFAULT` key or `default` for the rest).
    Findings must not overlap (the detector guarantees it). Item offsets refer to the
    output text."""
    ops = dict(operators or {})
    fallback = default or ops.get("DEFAULT") or Replace()
    # Replace numbers placeholders within this one text: give each call its own mapping
    # instead of mutating the shared operator, so concurrent calls cannot mix numbers
    local = Pseudonymize(InMemoryMappingStore(), "text")
    for key, op in list(ops.items()):
        if isinstance(op, Replace) and op.new_value is None:
            ops[key] = local
    if isinstance(fallback, Replace) and fallback.new_value is None:
        fallback = local
    parts: list[str] = []
    items: list[Replacement] = []
    pos = 0
    out_len = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue
        op = ops.get(f.entity_type, fallback)
        chunk = text[pos : f.start]
        parts.append(chunk)
        out_len += len(chunk)
        new = op.apply(text[f.start : f.end], f.entity_type)
        parts.append(new)
        name = "replace" if op is local else op.name
        items.append(Replacement(out_len, out_len + len(new), f.entity_type, name))
        out_len += len(new)
        pos = f.end
    parts.append(text[pos:])
    return Anonymized("".join(parts), items)


OPERATOR_NAMES = ("redact", "mask", "replace", "hash", "encrypt", "pseudonymize", "keep")


def operator_from_name(name: str, key: bytes | None = None) -> Operator:
    """Build an operator from its name, as the CLI and configuration write it
    (`mask`, `mask:2` keeps two characters)."""
    base, _, arg = name.partition(":")
    if base == "redact":
        return Redact(arg)
    if base == "mask":
        return Mask(int(arg) if arg else 4)
    if base == "replace":
        return Replace(arg or None)
    if base == "pseudonymize":
        return Pseudonymize()
    if base == "keep":
        return Keep()
    if base in ("hash", "encrypt"):
        if key is None:
            raise ValueError(f"operator {base!r} needs a key")
        return Hash(key) if base == "hash" else Encrypt(key)
    raise ValueError(f"unknown operator {name!r}; choose one of {', '.join(OPERATOR_NAMES)}")
