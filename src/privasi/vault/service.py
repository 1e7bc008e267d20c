"""What other domains use from the vault (import this module, not the ones behind it)."""

from __future__ import annotations

from privasi.vault.core import ReapplyResult, RotationResult, Vault, vault_for
from privasi.vault.errors import (
    CiphertextInvalid,
    KeyUnavailable,
    MasterKeyMismatch,
    SubjectShredded,
    VaultError,
)
from privasi.vault.master import resolved_master_key
from privasi.vault.normalise import normalise
from privasi.vault.secrets import (
    SecretInfo,
    delete_secret,
    get_secret,
    has_secret,
    list_secrets,
    set_secret,
)

__all__ = [
    "CiphertextInvalid",
    "KeyUnavailable",
    "MasterKeyMismatch",
    "ReapplyResult",
    "RotationResult",
    "SecretInfo",
    "SubjectShredded",
    "Vault",
    "VaultError",
    "delete_secret",
    "get_secret",
    "has_secret",
    "list_secrets",
    "normalise",
    "resolved_master_key",
    "set_secret",
    "vault_for",
]
