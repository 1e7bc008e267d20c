"""The closed vocabularies of the policy file.

Each value is a word the rest of privasi acts on (the consent service reads ``LegalBasis``,
the retention sweep reads ``StartEvent`` ...), so they are enums and not free text.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    controller = "controller"
    processor = "processor"


class Jurisdiction(StrEnum):
    id_pdp = "id-pdp"
    gdpr = "gdpr"


class Language(StrEnum):
    id = "id"
    en = "en"


class Sensitivity(StrEnum):
    general = "general"
    specific = "specific"


class SpecificKind(StrEnum):
    """The specific personal data of UU PDP Pasal 4 ayat (2)."""

    health = "health"
    biometric = "biometric"
    genetic = "genetic"
    criminal_record = "criminal_record"
    children = "children"
    personal_financial = "personal_financial"


class Source(StrEnum):
    subject = "subject"  # the person gives it to us
    automatic = "automatic"  # collected by our site, app or devices
    third_party = "third_party"  # partners, credit bureaus, login providers
    business_user = "business_user"  # a Business User we process for
    public_authority = "public_authority"


class LegalBasis(StrEnum):
    """UU PDP Pasal 20 ayat (2); GDPR Art. 6(1) has the same six."""

    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    vital_interest = "vital_interest"
    public_task = "public_task"
    legitimate_interest = "legitimate_interest"


class PurposeKind(StrEnum):
    transactional = "transactional"  # messages needed to serve the person; not promotional
    marketing = "marketing"
    operational = "operational"  # no messages: analytics, security, billing ...


class Channel(StrEnum):
    email = "email"
    whatsapp = "whatsapp"
    sms = "sms"
    phone = "phone"
    web = "web"
    chat_widget = "chat_widget"
    in_app = "in_app"
    post = "post"
    social_media = "social_media"


class RecipientRole(StrEnum):
    processor = "processor"  # processes on our behalf
    sub_processor = "sub_processor"  # processes on our behalf while we act as processor
    controller = "controller"  # decides for itself (an independent controller)
    joint_controller = "joint_controller"
    authority = "authority"  # courts, police, regulators: only when the law requires
    group_company = "group_company"
    advisor = "advisor"  # lawyers, accountants under confidentiality


class Safeguard(StrEnum):
    """The rungs of UU PDP Pasal 56, in the order the law tries them."""

    equal_protection = "equal_protection"  # ayat (2): equal or higher protection
    binding_safeguards = "binding_safeguards"  # ayat (3): adequate and binding safeguards
    consent = "consent"  # ayat (4): the person's consent


class SafeguardMechanism(StrEnum):
    standard_clauses = "standard_clauses"
    adequacy = "adequacy"
    certification = "certification"
    dpa = "dpa"
    binding_corporate_rules = "binding_corporate_rules"
    encryption = "encryption"


class EntityAction(StrEnum):
    pseudonymize = "pseudonymize"
    block = "block"
    pass_ = "pass"


class SystemKind(StrEnum):
    privasi = "privasi"
    sql = "sql"
    http = "http"
    manual = "manual"


class Erasure(StrEnum):
    delete_row = "delete_row"
    null = "null"
    mask = "mask"
    hash = "hash"


class StartEvent(StrEnum):
    collected = "collected"
    last_interaction = "last_interaction"
    contract_end = "contract_end"
    project_completed = "project_completed"
    consent_withdrawn = "consent_withdrawn"
    account_closed = "account_closed"


class RetentionAction(StrEnum):
    delete = "delete"
    anonymise = "anonymise"


class RetentionException(StrEnum):
    legal_obligation = "legal_obligation"
    legal_hold = "legal_hold"


class RequestType(StrEnum):
    access = "access"
    processing_record = "processing_record"
    portability = "portability"
    rectification = "rectification"
    erasure = "erasure"
    restriction = "restriction"
    objection = "objection"
    automated_decision = "automated_decision"
    withdrawal = "withdrawal"


class Verification(StrEnum):
    email_code = "email_code"
    phone_code = "phone_code"
    whatsapp_code = "whatsapp_code"
    account_login = "account_login"
    id_document = "id_document"
    staff_review = "staff_review"


class CookieCategory(StrEnum):
    essential = "essential"
    analytics = "analytics"
    preference = "preference"
    performance = "performance"
    advertising = "advertising"


class SecurityMeasure(StrEnum):
    encryption_at_rest = "encryption_at_rest"
    encryption_in_transit = "encryption_in_transit"
    access_control = "access_control"
    mfa = "mfa"
    least_privilege = "least_privilege"
    monitoring = "monitoring"
    encrypted_backups = "encrypted_backups"
    vulnerability_management = "vulnerability_management"
    audits = "audits"
    staff_training = "staff_training"
    confidentiality = "confidentiality"


class NoticeChannel(StrEnum):
    email = "email"
    whatsapp = "whatsapp"
    sms = "sms"
    in_app = "in_app"
    web_notice = "web_notice"
