"""Vault errors. Messages name keys by id only: never a value, never an identifier."""

from __future__ import annotations

from privasi.errors import Conflict, PrivasiError


class VaultError(PrivasiError):
    status = 500
    type = "vault-error"
    title = "The key store cannot serve this request"


class SubjectShredded(Conflict):
    """The subject's data key was destroyed: their encrypted data is gone for good."""

    status = 410
    type = "subject-shredded"
    title = "This data subject's data has been erased"


class KeyUnavailable(VaultError):
    """A ciphertext names a key the key store does not hold (restored from an older backup?)."""

    type = "key-unavailable"
    title = "The key for this value is not in the key store"


class CiphertextInvalid(VaultError):
    """Tampered, truncated, or presented for another subject, organisation or field."""

    status = 422
    type = "ciphertext-invalid"
    title = "The encrypted value is not valid here"


class MasterKeyMismatch(VaultError):
    """The configured master key is not the one the key store is wrapped under."""

    type = "master-key-mismatch"
    title = "The master key does not match the key store"
