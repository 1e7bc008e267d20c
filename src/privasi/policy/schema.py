"""The policy file as pydantic models: one file per organisation, read by every other part.

Structure is checked here; rules that span sections (every reference resolves, no sale) live
in ``checks.py`` so each problem can be reported at its own path and line.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from privasi.pii.types import ALL_ENTITIES
from privasi.policy.base import Email, EntityType, Ident, Localized, Model, Text, Url
from privasi.policy.countries import COUNTRIES
from privasi.policy.periods import Period
from privasi.policy.systems import System
from privasi.policy.vocab import (
    Channel,
    CookieCategory,
    EntityAction,
    Jurisdiction,
    Language,
    LegalBasis,
    NoticeChannel,
    PurposeKind,
    RecipientRole,
    RequestType,
    RetentionAction,
    RetentionException,
    Role,
    Safeguard,
    SafeguardMechanism,
    SecurityMeasure,
    Sensitivity,
    Source,
    SpecificKind,
    StartEvent,
    Verification,
)

CURRENT_SCHEMA_VERSION = 1
# Words older policy files use for the gateway's entity types (the notice has wording for them).
ENTITY_ALIASES = {"PASSWORD": "SECRET", "NPWP": "ID_NPWP", "LOCATION": "ADDRESS"}


class Authority(Model):
    name: Localized
    url: Url | None = None
    email: Email | None = None
    address: Text | None = None
    complaint: Localized | None = None  # how to complain, in the reader's words


class Dpo(Model):
    name: Text | None = None
    email: Email
    phone: Text | None = None


class Contacts(Model):
    privacy_email: Email | None = None
    support_email: Email | None = None
    contact_url: Url | None = None
    phone: Text | None = None
    dpo: Dpo | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contacts:
        if not (self.privacy_email or self.support_email or self.contact_url):
            raise ValueError("give at least one of privacy_email, support_email or contact_url")
        return self

    @property
    def primary(self) -> str:
        """Where people write about their data: the privacy address first."""
        return self.privacy_email or self.support_email or self.contact_url or ""


class Organisation(Model):
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    legal_name: Text
    brand: Text | None = None
    role: Role
    description: Localized | None = None
    address: Text | None = None
    website: Url | None = None
    time_zone: str = "Asia/Jakarta"
    contacts: Contacts
    supervisory_authority: Authority

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone such as Asia/Makassar") from None
        return value

    @property
    def display_name(self) -> str:
        return self.brand or self.legal_name


class Category(Model):
    id: Ident
    name: Localized
    description: Localized | None = None
    examples: Localized | None = None  # the fields a person recognises: "name, e-mail, phone"
    sensitivity: Sensitivity = Sensitivity.general
    specific_kind: SpecificKind | None = None
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _specific(self) -> Category:
        if self.sensitivity is Sensitivity.specific and self.specific_kind is None:
            raise ValueError("specific data needs specific_kind (UU PDP Pasal 4 ayat (2))")
        if self.sensitivity is Sensitivity.general and self.specific_kind is not None:
            raise ValueError("specific_kind is only for sensitivity: specific")
        return self


class SubjectState(Model):
    id: Ident
    name: Localized


class SubjectKind(Model):
    id: Ident
    name: Localized
    states: list[SubjectState] = Field(default_factory=list)


class Purpose(Model):
    id: Ident
    name: Localized
    description: Localized
    legal_basis: LegalBasis
    categories: list[Ident] = Field(min_length=1)
    subjects: list[Ident] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    kind: PurposeKind = PurposeKind.operational
    processing_role: Role = Role.controller  # processor: done on a Business User's instructions
    keyword_opt_in: bool = False  # consent by replying a keyword (e.g. on WhatsApp)
    opt_out_keywords: list[Text] = Field(default_factory=list)
    withdrawal_consequences: Localized | None = None
    automated_decisions: bool = False
    involves_sale: bool = False  # selling or renting personal data; no recipient may take part

    @model_validator(mode="after")
    def _consent_rules(self) -> Purpose:
        if self.keyword_opt_in and self.legal_basis is not LegalBasis.consent:
            raise ValueError("keyword_opt_in is only possible when the legal basis is consent")
        if (
            self.legal_basis is LegalBasis.consent
            and self.processing_role is Role.controller
            and self.withdrawal_consequences is None
        ):
            raise ValueError(
                "a purpose based on consent needs withdrawal_consequences (id/en): people are "
                "told what happens before their withdrawal takes effect"
            )
        if self.kind is PurposeKind.marketing and self.legal_basis not in (
            LegalBasis.consent,
            LegalBasis.legitimate_interest,
        ):
            raise ValueError("marketing rests on consent (or, under GDPR, legitimate interest)")
        return self


class Recipient(Model):
    id: Ident
    name: Text | Localized  # a company name, or a described group ("payment processors")
    role: RecipientRole
    description: Localized | None = None
    countries: list[str] = Field(min_length=1)
    transfer_safeguard: Safeguard | None = None
    safeguard_mechanisms: list[SafeguardMechanism] = Field(default_factory=list)
    certifications: list[Text] = Field(default_factory=list)
    purposes: list[Ident] = Field(min_length=1)
    categories: list[Ident] = Field(default_factory=list)  # empty: all of its purposes' categories
    aggregate_only: bool = False  # only counts such as "500 men under 40", never a person
    ai_provider: bool = False
    trains_on_data: bool = False
    entity_rules: dict[EntityType, EntityAction] = Field(default_factory=dict)
    default_entity_action: EntityAction | None = None

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        codes = [c.upper() for c in value]
        for code in codes:
            if code not in COUNTRIES:
                raise ValueError(f"'{code}' is not a known ISO 3166 country code (or EU)")
        return codes

    @model_validator(mode="after")
    def _transfer(self) -> Recipient:
        abroad = any(c != "ID" for c in self.countries)
        if abroad and self.transfer_safeguard is None and self.role is not RecipientRole.authority:
            raise ValueError(
                "a recipient outside Indonesia needs transfer_safeguard "
                "(equal_protection, binding_safeguards or consent: UU PDP Pasal 56)"
            )
        if not abroad and self.transfer_safeguard is not None:
            raise ValueError("transfer_safeguard is only for recipients outside Indonesia")
        if (self.entity_rules or self.default_entity_action) and not self.ai_provider:
            raise ValueError("entity_rules apply to AI providers: set ai_provider: true")
        if self.ai_provider and self.default_entity_action is None:
            raise ValueError(
                "an AI provider needs default_entity_action (pseudonymize, block or pass) "
                "for entity types without a rule"
            )
        return self

    @field_validator("entity_rules")
    @classmethod
    def _entity_names(cls, value: dict[str, EntityAction]) -> dict[str, EntityAction]:
        # Keys are the PII engine's entity types; a few older words (PASSWORD, NPWP, LOCATION)
        # stay accepted as aliases because the notice has wording for them.
        seen: dict[str, str] = {}
        for name in value:
            real = ENTITY_ALIASES.get(name, name)
            if real not in ALL_ENTITIES:
                known = ", ".join(sorted(ALL_ENTITIES))
                raise ValueError(f"'{name}' is not an entity type the gateway detects ({known})")
            if real in seen and value[seen[real]] != value[name]:
                raise ValueError(f"'{seen[real]}' and '{name}' are the same entity type")
            seen[real] = name
        return value

    def action_for(self, entity_type: str) -> EntityAction:
        """What the AI gateway does with this entity type before sending to this provider."""
        rule = self.entity_rules.get(entity_type)
        if rule is None:
            rule = next(
                (a for n, a in self.entity_rules.items() if ENTITY_ALIASES.get(n) == entity_type),
                None,
            )
        return rule or self.default_entity_action or EntityAction.block

    def display(self, lang: str) -> str:
        return self.name if isinstance(self.name, str) else self.name.get(lang)

    @property
    def abroad(self) -> list[str]:
        return [c for c in self.countries if c != "ID"]


class RetentionRule(Model):
    id: Ident
    description: Localized | None = None
    categories: list[Ident] = Field(default_factory=list)
    purposes: list[Ident] = Field(default_factory=list)
    subject_states: list[Ident] = Field(default_factory=list)
    period: Period
    start: StartEvent
    action: RetentionAction = RetentionAction.delete
    minimum: Period | None = None  # the law's floor: never delete sooner
    unless_states: list[Ident] = Field(default_factory=list)  # e.g. a lead who became a client
    exceptions: list[RetentionException] = Field(default_factory=list)
    reason: Localized | None = None

    @model_validator(mode="after")
    def _scope(self) -> RetentionRule:
        if not (self.categories or self.purposes or self.subject_states):
            raise ValueError(
                "a retention rule needs a scope: categories, purposes or subject_states"
            )
        if self.minimum is not None and self.minimum > self.period:
            raise ValueError(f"minimum {self.minimum} is longer than the period {self.period}")
        return self


class Backups(Model):
    rotation: Period | None = None
    encrypted: bool = True


class Retention(Model):
    rules: list[RetentionRule] = Field(min_length=1)
    backups: Backups | None = None


class Rights(Model):
    deadlines: dict[RequestType, Period] = Field(default_factory=dict)
    default_deadline: Period | None = None
    channels: list[Channel] = Field(min_length=1)
    contact: Email | Url | None = None  # defaults to the organisation's privacy contact
    verification: list[Verification] = Field(min_length=1)
    route_to_business_user: bool = False  # processor: end users' requests go to the controller


class Minors(Model):
    minimum_age: int = Field(ge=1, le=21)
    guardian_consent: bool = False  # True: younger people may take part with a guardian's consent


class CookieTool(Model):
    name: Text
    recipient: Ident | None = None
    cookies: list[Text] = Field(default_factory=list)
    lifetime: Period | None = None


class Cookie(Model):
    category: CookieCategory
    locked: bool = False
    description: Localized | None = None
    tools: list[CookieTool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lock(self) -> Cookie:
        essential = self.category is CookieCategory.essential
        if essential and not self.locked:
            raise ValueError("essential cookies cannot be switched off: set locked: true")
        if not essential and self.locked:
            raise ValueError(f"{self.category.value} cookies need consent and cannot be locked")
        return self


class Security(Model):
    measures: list[SecurityMeasure] = Field(min_length=1)
    details: Localized | None = None


class Breach(Model):
    contacts: list[Email | Url] = Field(min_length=1)  # who handles an incident
    authority: Authority | None = None  # defaults to the supervisory authority
    channels: list[NoticeChannel] = Field(min_length=1)
    notify_business_users: bool = False  # processor: tell the controller without undue delay


class Changes(Model):
    channels: list[NoticeChannel] = Field(min_length=1)
    advance_notice: Period | None = None


class Policy(Model):
    schema_version: int = CURRENT_SCHEMA_VERSION
    effective_date: date
    organisation: Organisation
    jurisdictions: list[Jurisdiction] = Field(default_factory=lambda: [Jurisdiction.id_pdp])
    languages: list[Language] = Field(default_factory=lambda: [Language.id, Language.en])
    categories: list[Category] = Field(min_length=1)
    subjects: list[SubjectKind] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    retention: Retention
    rights: Rights
    minors: Minors
    cookies: list[Cookie] = Field(default_factory=list)
    security: Security
    breach: Breach
    changes: Changes

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != CURRENT_SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is not {CURRENT_SCHEMA_VERSION}: load the file "
                "through privasi.policy.load_policy, which upgrades older versions"
            )
        return value

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Policy:
        if info.context and info.context.get("defer_checks"):
            return self
        from privasi.policy.checks import cross_check

        problems = cross_check(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems))
        return self

    # Lookups other parts call; each raises KeyError for an unknown id.
    def purpose(self, purpose_id: str) -> Purpose:
        return _find(self.purposes, purpose_id, "purpose")

    def category(self, category_id: str) -> Category:
        return _find(self.categories, category_id, "category")

    def recipient(self, recipient_id: str) -> Recipient:
        return _find(self.recipients, recipient_id, "recipient")

    def system(self, system_id: str) -> System:
        return _find(self.systems, system_id, "system")

    def ai_providers(self) -> list[Recipient]:
        return [r for r in self.recipients if r.ai_provider]

    def cookie(self, category: CookieCategory | str) -> Cookie | None:
        return next((c for c in self.cookies if c.category == CookieCategory(category)), None)

    def subject_state(self, state_id: str) -> SubjectState:
        for kind in self.subjects:
            for state in kind.states:
                if state.id == state_id:
                    return state
        raise KeyError(f"no subject state '{state_id}'")

    def retention_for(
        self,
        category: str | None = None,
        purpose: str | None = None,
        state: str | None = None,
    ) -> list[RetentionRule]:
        """The rules whose scope covers what is given; an empty scope field matches anything."""

        def hit(scope: list[str], value: str | None) -> bool:
            return not scope or value is None or value in scope

        return [
            r
            for r in self.retention.rules
            if hit(r.categories, category)
            and hit(r.purposes, purpose)
            and hit(r.subject_states, state)
            and not (state is not None and state in r.unless_states)
        ]

    def rights_deadline(self, request_type: RequestType | str) -> Period | None:
        """What the policy promises for this request type (not the law's clock)."""
        return self.rights.deadlines.get(RequestType(request_type), self.rights.default_deadline)

    def rights_contact(self) -> str:
        return self.rights.contact or self.organisation.contacts.primary

    def breach_authority(self) -> Authority:
        return self.breach.authority or self.organisation.supervisory_authority


def _find(items: list[Any], wanted: str, what: str) -> Any:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"no {what} '{wanted}'")
