"""privasi.pii: detect and redact personal data in Indonesian and English text.

>>> from privasi.pii import Detector, anonymize, Pseudonymize
>>> d = Detector()
>>> text = "saya Budi, WA 0812-3456-7890"
>>> anonymize(text, d.detect(text)).text
'saya <PERSON_1>, WA <PHONE_NUMBER_1>'
"""

from .engine import AllowList, Detector, decode_text, resolve_overlaps
from .language import detect_language
from .logredact import redact_for_log
from .mapping import InMemoryMappingStore, MappingStore, restore
from .operators import (
    Anonymized,
    Encrypt,
    Hash,
    Keep,
    Mask,
    Operator,
    Pseudonymize,
    Redact,
    Replace,
    anonymize,
    decrypt_token,
    operator_from_name,
)
from .types import ALL_ENTITIES, EntityType, Finding, Language, PiiInputError

__all__ = [
    "ALL_ENTITIES",
    "AllowList",
    "Anonymized",
    "Detector",
    "Encrypt",
    "EntityType",
    "Finding",
    "Hash",
    "InMemoryMappingStore",
    "Keep",
    "Language",
    "MappingStore",
    "Mask",
    "Operator",
    "PiiInputError",
    "Pseudonymize",
    "Redact",
    "Replace",
    "anonymize",
    "decode_text",
    "decrypt_token",
    "detect_language",
    "operator_from_name",
    "redact_for_log",
    "resolve_overlaps",
    "restore",
]
