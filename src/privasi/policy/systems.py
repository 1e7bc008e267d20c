"""The business's own systems as the policy declares them, for the connectors to act on.

A system names its credential (``credential: crm_db``); the secret itself is stored encrypted per
organisation outside the file, so a policy can be published, diffed and reviewed safely.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from privasi.policy.base import Ident, Localized, Model, Text, Url
from privasi.policy.vocab import Erasure, StartEvent, SystemKind

MATCH_KINDS = ("email", "phone", "whatsapp", "external", "google", "meta_asid")


class Column(Model):
    name: Text
    category: Ident
    erasure: Erasure
    # What a retention rule with ``action: anonymise`` does to the column: an irreversible random
    # token, empty it, keep it, or generalise it (a date to its year, a number such as an age to
    # its ten-year band). Left out, identifiers (hash, mask) become tokens and the rest is emptied.
    anonymise: Literal["token", "null", "keep", "year", "decade"] | None = None

    @field_validator("erasure", mode="before")
    @classmethod
    def _yaml_null(cls, value: Any) -> Any:
        # `erasure: null` in YAML arrives as None; the author meant the strategy "null".
        return Erasure.null if value is None else value


class Table(Model):
    name: Text  # "schema.table" reaches a table outside the connection's default schema
    identity_column: Text
    # Which of the subject's identifiers the identity column holds (email, phone, external ...).
    # Left out, it follows the column's name: *mail* -> email, phone/hp/msisdn/wa -> phone,
    # anything else -> external (the business's own customer id).
    match: Ident | None = None
    # For a table that holds no identifier itself but a key of another declared table of the
    # same system ("customers.id"): its rows are those whose identity column holds the key of
    # one of the subject's rows there (orders.customer_id -> customers.id).
    via: Text | None = None
    subject_kind: Ident | None = None
    columns: list[Column] = Field(min_length=1)
    timestamps: dict[StartEvent, Text] = Field(default_factory=dict)
    # A column holding the subject's state (lead, client ...), for retention rules scoped by
    # subject_states or unless_states; without it such a rule leaves the table alone.
    state_column: Text | None = None

    @model_validator(mode="after")
    def _columns(self) -> Table:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError("a column is listed twice")
        if self.match is not None and self.match not in MATCH_KINDS:
            raise ValueError(f"match is one of {', '.join(MATCH_KINDS)}")
        return self

    def match_kind(self) -> str:
        """The kind of subject identifier the identity column holds."""
        if self.match is not None:
            return self.match
        name = self.identity_column.lower()
        if "mail" in name:
            return "email"
        words = set(re.split(r"[^a-z0-9]+", name))
        if "phone" in name or words & {"msisdn", "whatsapp", "wa", "hp", "telp", "telepon"}:
            return "phone"
        return "external"


_URL_WITH_SECRET = re.compile(r"://[^/\s]*:[^/\s]*@")


class System(Model):
    id: Ident
    name: Text
    kind: SystemKind
    credential: Ident | None = None  # name of a secret stored encrypted outside the file
    base_url: Url | None = None
    owner: Text | None = None
    instructions: Localized | None = None  # for manual systems: what staff must do
    categories: list[Ident] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_fields(self) -> System:
        if self.kind in (SystemKind.sql, SystemKind.http) and self.credential is None:
            raise ValueError(
                f"a {self.kind.value} system needs `credential: <name>`; "
                "the secret itself is stored with `privasi secrets`, never in this file"
            )
        if self.tables and self.kind is not SystemKind.sql:
            raise ValueError("tables are only for sql systems")
        names = {t.name: t for t in self.tables}
        for table in self.tables:
            if table.via is None:
                continue
            parent, _, column = table.via.rpartition(".")
            if not column or parent not in names or parent == table.name:
                raise ValueError(
                    f"table '{table.name}': via is '<another table of this system>.<column>'"
                )
            if names[parent].via is not None:
                raise ValueError(f"table '{table.name}': via must name a table found directly")
        if self.kind is SystemKind.manual and self.instructions is None:
            raise ValueError("a manual system needs instructions for the staff who act on it")
        if self.base_url and _URL_WITH_SECRET.search(self.base_url):
            raise ValueError("base_url contains a password: keep secrets out of the policy file")
        return self

    def all_categories(self) -> list[str]:
        seen = dict.fromkeys(self.categories)
        for table in self.tables:
            seen.update(dict.fromkeys(c.category for c in table.columns))
        return list(seen)
