"""The vault: envelope encryption with per-subject data keys, blind indexes and crypto-shredding.

Every data key is 32 random bytes, AES-256-GCM wrapped by the master key in the key store (a
database apart from the main one). Ciphertexts in the main database carry the id of the key that
sealed them and are bound (as associated data) to the organisation, the subject and the field, so a
value copied to another subject, organisation or column does not decrypt. Destroying a subject's key
(``shred``) makes every copy of their ciphertext unreadable, backups of the main database included.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from privasi.config import Settings
from privasi.db import Database, PrivasiSession
from privasi.vault import master as master_keys
from privasi.vault import rotation, shredding
from privasi.vault.errors import CiphertextInvalid, KeyUnavailable, SubjectShredded, VaultError
from privasi.vault.keystore import KeyStore, ShredEntry, WrappedKey
from privasi.vault.normalise import normalise
from privasi.vault.rotation import RotationResult
from privasi.vault.shredding import ReapplyResult, subject_name

TOKEN_PREFIX = "pv1"
NONCE_BYTES = 12
ORG_KEY_PURPOSES = frozenset({"blind_index", "audit", "secrets"})
JSONValue = Any
# A shred made by another process reaches this one once its cached copy of the key expires.
DEFAULT_CACHE_TTL = 60.0
DEFAULT_CACHE_SIZE = 4096

_attached: weakref.WeakKeyDictionary[Engine, Vault] = weakref.WeakKeyDictionary()
# The vault last built from settings, for sessions of a database nobody attached a vault to.
_default: list[Vault] = []


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(*parts: str | None) -> bytes:
    # JSON keeps the parts unambiguous: ("a.b", "c") and ("a", "b.c") never collide.
    return json.dumps(parts, separators=(",", ":")).encode()


def _encode_value(value: str | bytes | JSONValue) -> bytes:
    if isinstance(value, str):
        return b"s" + value.encode()
    if isinstance(value, bytes | bytearray):
        return b"b" + bytes(value)
    return b"j" + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_value(data: bytes) -> str | bytes | JSONValue:
    tag, body = data[:1], data[1:]
    if tag == b"s":
        return body.decode()
    if tag == b"b":
        return body
    if tag == b"j":
        return json.loads(body)
    raise CiphertextInvalid("the decrypted value has an unknown type tag")


class Vault:
    """One per process: the app and the CLI build it with ``Vault.from_settings(settings)``."""

    def __init__(
        self,
        keystore: KeyStore,
        master: bytes,
        *,
        settings: Settings | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        cache_ttl: float = DEFAULT_CACHE_TTL,
    ) -> None:
        self.keystore = keystore
        self._master = master
        self._settings = settings
        self._cache: OrderedDict[tuple[str, str], tuple[str, bytes, float]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_ttl = cache_ttl
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> Vault:
        master = master_keys.resolved_master_key(settings)
        keystore = KeyStore(settings.keys_url)
        meta = keystore.open(master_keys.key_id(master))
        if master_keys.pending_next_key(settings) is not None:
            # A rotation is running or was interrupted: wait for it, then look again.
            with master_keys.rotation_lock(settings):
                meta = keystore.open(master_keys.key_id(master))
                finished = master_keys.finish_pending_rotation(settings, meta.master_key_id)
                master = finished or master_keys.resolved_master_key(settings)
        if meta.master_key_id != master_keys.key_id(master):
            keystore.dispose()
            raise master_keys.mismatch(meta.master_key_id, master_keys.key_id(master))
        vault = cls(keystore, master, settings=settings)
        _default[:] = [vault]
        if db is not None:
            vault.attach(db)
        return vault

    def attach(self, db: Database) -> None:
        """Make this the vault that services find for sessions of ``db`` (see ``vault_for``)."""
        _attached[db.engine] = self

    @property
    def settings(self) -> Settings:
        """The settings this vault was built from (the environment's when built without)."""
        return self._settings if self._settings is not None else Settings()

    @property
    def master_key_id(self) -> str:
        return master_keys.key_id(self._master)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
        if _default and _default[0] is self:
            _default.clear()
        self.keystore.dispose()

    # --- keys ----------------------------------------------------------------------------------

    def _wrap(self, master: bytes, row_key_id: str, org_id: str, name: str, raw: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = _aad("privasi-wrap-v1", master_keys.key_id(master), org_id, name, row_key_id)
        return nonce + AESGCM(master).encrypt(nonce, raw, aad)

    def _unwrap(self, master: bytes, row: WrappedKey) -> bytes:
        if row.master_key_id != master_keys.key_id(master):
            raise master_keys.mismatch(row.master_key_id, master_keys.key_id(master))
        aad = _aad("privasi-wrap-v1", row.master_key_id, row.org_id, row.name, row.key_id)
        try:
            return AESGCM(master).decrypt(row.wrapped[:NONCE_BYTES], row.wrapped[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise VaultError(f"key {row.key_id} in the key store fails its integrity check") from (
                exc
            )

    def _cached(self, org_id: str, name: str) -> tuple[str, bytes] | None:
        with self._lock:
            entry = self._cache.get((org_id, name))
            if entry is None:
                return None
            if entry[2] < time.monotonic():
                del self._cache[(org_id, name)]
                return None
            self._cache.move_to_end((org_id, name))
            return entry[0], entry[1]

    def _remember(self, org_id: str, name: str, key_id: str, raw: bytes) -> None:
        with self._lock:
            self._cache[(org_id, name)] = (key_id, raw, time.monotonic() + self._cache_ttl)
            self._cache.move_to_end((org_id, name))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _forget(self, org_id: str, name: str | None = None) -> None:
        with self._lock:
            if name is not None:
                self._cache.pop((org_id, name), None)
            else:
                for key in [k for k in self._cache if k[0] == org_id]:
                    del self._cache[key]

    def _forget_all(self) -> None:
        with self._lock:
            self._cache.clear()

    def _key(
        self, org_id: str, name: str, *, create: bool, subject_id: str | None = None
    ) -> tuple[str, bytes] | None:
        cached = self._cached(org_id, name)
        if cached is not None:
            return cached
        try:
            found = self._load(org_id, name, create=create, subject_id=subject_id)
        except IntegrityError:
            # Another process created the same key at the same moment: use theirs.
            found = self._load(org_id, name, create=False, subject_id=subject_id)
        if found is not None:
            self._remember(org_id, name, *found)
        return found

    def _load(
        self, org_id: str, name: str, *, create: bool, subject_id: str | None
    ) -> tuple[str, bytes] | None:
        with self.keystore.session() as session:
            row = self.keystore.find(session, org_id, name)
            if row is None:
                if shredding.journalled(session, org_id, subject_id):
                    if subject_id is None:
                        raise VaultError("this organisation's keys were destroyed")
                    raise SubjectShredded("this data subject's key was destroyed (erasure)")
                if not create:
                    return None
                row = self._create(session, org_id, name)
            return row.key_id, self._unwrap(self._master, row)

    def _create(self, session: Session, org_id: str, name: str) -> WrappedKey:
        meta = self.keystore.meta(session)
        if meta.master_key_id != self.master_key_id:
            # Another process rotated the master key: wrapping under ours would strand this key.
            raise master_keys.mismatch(meta.master_key_id, self.master_key_id)
        key_id = "dk-" + secrets.token_hex(12)
        raw = AESGCM.generate_key(bit_length=256)
        row = WrappedKey(
            key_id=key_id,
            org_id=org_id,
            name=name,
            kind=name.split(":", 1)[0],
            wrapped=self._wrap(self._master, key_id, org_id, name, raw),
            master_key_id=self.master_key_id,
        )
        session.add(row)
        session.flush()
        return row

    def _org_key(self, org_id: str, purpose: str) -> tuple[str, bytes]:
        if purpose not in ORG_KEY_PURPOSES:
            raise ValueError(f"unknown organisation key purpose {purpose!r}")
        found = self._key(org_id, purpose, create=True)
        assert found is not None
        return found

    def audit_key(self, org_id: str) -> tuple[str, bytes]:
        """The organisation's audit MAC key and its id (created on first use)."""
        return self._org_key(org_id, "audit")

    def audit_key_by_id(self, org_id: str, key_id: str) -> bytes:
        current_id, raw = self.audit_key(org_id)
        if current_id != key_id:
            raise KeyUnavailable(f"audit key {key_id} is not in the key store")
        return raw

    # --- sealing -------------------------------------------------------------------------------

    @staticmethod
    def _seal(key_id: str, raw: bytes, aad: bytes, plaintext: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(raw).encrypt(nonce, plaintext, aad)
        return f"{TOKEN_PREFIX}.{key_id}.{_b64(nonce + sealed)}"

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes]:
        if not isinstance(token, str):
            raise CiphertextInvalid("an encrypted value must be text")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1]:
            raise CiphertextInvalid("not a privasi ciphertext")
        try:
            body = _unb64(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise CiphertextInvalid("the ciphertext is not valid base64") from exc
        if len(body) < NONCE_BYTES + 16:
            raise CiphertextInvalid("the ciphertext is truncated")
        return parts[1], body

    @staticmethod
    def _open(key_id: str, raw: bytes, body: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(raw).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise CiphertextInvalid(
                f"the value sealed with key {key_id} fails its integrity check: tampered, or "
                "presented for another subject, organisation or field"
            ) from exc

    def encrypt_field(
        self, org_id: str, subject_id: str, value: str | bytes | JSONValue, aad: str
    ) -> str:
        """Seal a subject's value (text, bytes or JSON) for the field ``aad``; creates their key."""
        name = subject_name(subject_id)
        found = self._key(org_id, name, create=True, subject_id=subject_id)
        assert found is not None
        key_id, raw = found
        return self._seal(
            key_id, raw, _aad("field", org_id, subject_id, key_id, aad), _encode_value(value)
        )

    def decrypt_field(
        self, org_id: str, subject_id: str, token: str, aad: str
    ) -> str | bytes | JSONValue:
        """The value ``encrypt_field`` sealed, as its type; ``SubjectShredded`` after erasure."""
        key_id, body = self._parse(token)
        found = self._key(org_id, subject_name(subject_id), create=False, subject_id=subject_id)
        if found is None or found[0] != key_id:
            raise KeyUnavailable(
                f"key {key_id} is not in the key store (restored from an older backup, or the "
                "value belongs to another subject)"
            )
        plain = self._open(key_id, found[1], body, _aad("field", org_id, subject_id, key_id, aad))
        return _decode_value(plain)

    def seal_for_org(self, org_id: str, purpose: str, plaintext: bytes, aad: str) -> str:
        key_id, raw = self._org_key(org_id, purpose)
        return self._seal(key_id, raw, _aad("org", org_id, purpose, key_id, aad), plaintext)

    def open_for_org(self, org_id: str, purpose: str, token: str, aad: str) -> bytes:
        key_id, body = self._parse(token)
        current_id, raw = self._org_key(org_id, purpose)
        if current_id != key_id:
            raise KeyUnavailable(f"key {key_id} is not in the key store")
        return self._open(key_id, raw, body, _aad("org", org_id, purpose, key_id, aad))

    # --- blind indexes -------------------------------------------------------------------------

    def blind_index(self, org_id: str, kind: str, value: str) -> str:
        """HMAC-SHA256 of the normalised identifier under the organisation's own blind-index key."""
        normalised = normalise(kind, value)
        _, raw = self._org_key(org_id, "blind_index")
        message = kind.encode() + b"\x00" + normalised.encode()
        return hmac.new(raw, message, hashlib.sha256).hexdigest()

    # --- shredding (see shredding.py) ----------------------------------------------------------

    def is_shredded(self, org_id: str, subject_id: str) -> bool:
        with self.keystore.session() as session:
            return shredding.journalled(session, org_id, subject_id)

    def shred(self, org_id: str, subject_id: str, session: PrivasiSession | None = None) -> bool:
        """Destroy the subject's data key and journal it; False if it was already shredded.

        Pass the caller's main-database ``session`` to also keep a copy of the journal entry there,
        so ``reapply_shreds`` can correct a key store restored from a backup older than the shred.
        The caller records the erasure in the audit trail.
        """
        return shredding.shred(self, org_id, subject_id, session)

    def shred_org(self, org_id: str) -> int:
        """Destroy every key of the organisation: all its encrypted data, secrets and blind
        indexes become unreadable and no new key is created for it. Returns the keys destroyed."""
        return shredding.shred_org(self, org_id)

    def reapply_shreds(self, session: PrivasiSession | None = None) -> ReapplyResult:
        """Destroy every journalled subject's key again, merging the key store's journal with the
        copy in the main database (``session``) in both directions."""
        return shredding.reapply_shreds(self, session)

    def stats(self) -> dict[str, int]:
        """How many keys of each kind the store holds, and the journal's length."""
        with self.keystore.session() as ks:
            rows = ks.execute(select(WrappedKey.kind, func.count()).group_by(WrappedKey.kind)).all()
            counts = {f"{kind} keys": int(number) for kind, number in rows}
            counts["shredded subjects"] = int(
                ks.scalar(select(func.count()).select_from(ShredEntry)) or 0
            )
        return counts

    # --- master key rotation (see rotation.py) -------------------------------------------------

    def rewrap(self, new_master: bytes) -> RotationResult:
        """Rewrap every key under ``new_master`` in one key-store transaction; the main database
        and the data keys themselves are untouched, so every ciphertext stays readable."""
        return rotation.rewrap(self, new_master)

    def rotate_master_key(self, new_master: bytes | None = None) -> RotationResult:
        """Rotate to a new master key. With a key file in the data dir, the file is replaced too;
        with ``PRIVASI_MASTER_KEY`` the caller must hand the new key to the operator."""
        return rotation.rotate(self, new_master)


def attached_to(db: Database) -> Vault | None:
    return _attached.get(db.engine)


def vault_for(session: Session) -> Vault:
    """The vault attached to the database ``session`` belongs to."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    vault = _attached.get(engine) or (_default[0] if _default else None)
    if vault is None:
        raise VaultError(
            "no vault is attached to this database; build it with Vault.from_settings(settings, db)"
        )
    return vault
