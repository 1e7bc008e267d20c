"""Core value types of the PII engine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Language = Literal["id", "en", "mixed"]


class EntityType(StrEnum):
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"
    ID_NIK = "ID_NIK"
    ID_NPWP = "ID_NPWP"
    ID_KK = "ID_KK"
    CREDIT_CARD = "CREDIT_CARD"
    BANK_ACCOUNT = "BANK_ACCOUNT"
    IP_ADDRESS = "IP_ADDRESS"
    PERSON = "PERSON"
    ADDRESS = "ADDRESS"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    SECRET = "SECRET"
    URL = "URL"
    PASSPORT = "PASSPORT"


ALL_ENTITIES: frozenset[str] = frozenset(e.value for e in EntityType)


@dataclass(frozen=True, slots=True)
class Finding:
    """A detected span. It holds offsets only, never the matched text, so printing or
    logging a finding cannot leak the value."""

    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str

    def __repr__(self) -> str:
        return (
            f"Finding(start={self.start}, end={self.end}, entity_type={self.entity_type!r}, "
            f"score={self.score:.2f}, recognizer={self.recognizer!r})"
        )

    __str__ = __repr__

    def value(self, text: str) -> str:
        return text[self.start : self.end]

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "type": self.entity_type,
            "score": round(self.score, 3),
        }


class PiiInputError(ValueError):
    """Input the engine cannot read (for example bytes that are not UTF-8)."""
