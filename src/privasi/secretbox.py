"""Small authenticated encryption for the service's own secrets (TOTP seeds, one-time passwords).

Personal data of data subjects goes through ``privasi.vault`` with per-subject keys; this box is for
values the service itself needs back, keyed by a key derived from the service secret.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBoxError(ValueError):
    pass


class SecretBox:
    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"privasi:" + purpose.encode()
        ).derive(secret)
        self._aad = purpose.encode()

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ciphertext = AESGCM(self._key).encrypt(nonce, plaintext.encode(), self._aad)
        return base64.urlsafe_b64encode(nonce + ciphertext).decode()

    def open(self, token: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token.encode())
            return AESGCM(self._key).decrypt(raw[:12], raw[12:], self._aad).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretBoxError("stored secret cannot be decrypted with the current key") from exc
