"""What the policy says about a purpose, as the consent service needs it.

Besides the policy's purposes, the cookie banner records consent per cookie category under the
purpose id ``cookie:<category>`` (``cookie:analytics``): a declared, non-essential category is
consent-based; ``cookie:essential`` is always allowed and never asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from privasi.db import PrivasiSession
from privasi.errors import PrivasiError, ValidationFailed
from privasi.policy.schema import Policy
from privasi.policy.vocab import CookieCategory, LegalBasis

COOKIE_PREFIX = "cookie:"
ESSENTIAL = "essential"
# What a restricted subject's data may still be used for (UU PDP Pasal 11; GDPR Art. 18(2)):
# keeping it, legal claims, and what a law itself requires. Purposes with these ids or legal
# bases pass a check while the subject is restricted; everything else stops.
KEPT_UNDER_RESTRICTION_IDS = frozenset({"storage", "legal_claims"})
KEPT_UNDER_RESTRICTION_BASES = frozenset(
    {LegalBasis.legal_obligation.value, LegalBasis.vital_interest.value}
)


class UnknownPurpose(ValidationFailed):
    type = "unknown-purpose"
    title = "The policy in effect declares no such purpose"


class NotConsentBased(ValidationFailed):
    type = "purpose-not-consent-based"
    title = "This purpose does not rest on consent"


class MinorNeedsGuardian(PrivasiError):
    status = 403
    type = "minor-needs-guardian"
    title = "A minor's consent must be given by a linked parent or guardian"


class MinorsNotAccepted(PrivasiError):
    status = 403
    type = "minors-not-accepted"
    title = "The policy does not accept people under its minimum age"


@dataclass(frozen=True)
class PurposeRule:
    id: str
    basis: str  # a LegalBasis value, or "essential" for essential cookies
    kind: str | None


def cookie_purpose(category: str) -> str:
    return f"{COOKIE_PREFIX}{category}"


def rule_for(policy: Policy, purpose: str) -> PurposeRule | None:
    if purpose.startswith(COOKIE_PREFIX):
        category = purpose[len(COOKIE_PREFIX) :]
        if category not in {c.value for c in CookieCategory} or policy.cookie(category) is None:
            return None
        basis = ESSENTIAL if category == ESSENTIAL else LegalBasis.consent.value
        return PurposeRule(purpose, basis, "cookie")
    try:
        declared = policy.purpose(purpose)
    except KeyError:
        return None
    return PurposeRule(declared.id, declared.legal_basis.value, declared.kind.value)


def require_consent_rule(policy: Policy, purpose: str) -> PurposeRule:
    rule = rule_for(policy, purpose)
    if rule is None:
        raise UnknownPurpose(
            f"the policy in effect declares no purpose '{purpose[:100]}'", field="purpose"
        )
    if rule.basis != LegalBasis.consent.value:
        raise NotConsentBased(
            f"purpose '{rule.id}' rests on {rule.basis.replace('_', ' ')}, not consent: there "
            "is no consent to record",
            field="purpose",
        )
    return rule


def withdrawal_consequences(policy: Policy, purpose: str, lang: str) -> str | None:
    """What withdrawing consent for ``purpose`` means, in ``lang`` (id or en), as the policy says."""
    if purpose.startswith(COOKIE_PREFIX):
        return None
    try:
        declared = policy.purpose(purpose)
    except KeyError:
        return None
    if declared.withdrawal_consequences is None:
        return None
    return declared.withdrawal_consequences.get(lang)


def consent_purposes(policy: Policy) -> list[PurposeRule]:
    """Every purpose a subject can give or withdraw consent for, cookie categories included."""
    rules = [
        PurposeRule(p.id, p.legal_basis.value, p.kind.value)
        for p in policy.purposes
        if p.legal_basis is LegalBasis.consent
    ]
    rules += [
        PurposeRule(cookie_purpose(c.category.value), LegalBasis.consent.value, "cookie")
        for c in policy.cookies
        if not c.locked
    ]
    return rules


# --- the policy in effect, parsed once per version ---------------------------------------------

_CACHE_SIZE = 128
_cache: OrderedDict[tuple[str, str, str], Policy] = OrderedDict()
_lock = threading.Lock()


def policy_in_effect(session: PrivasiSession) -> tuple[Policy, int]:
    """The policy in effect and its version number. Parsing a policy takes milliseconds and a
    bulk check or a write runs this on every call, so parsed versions are kept."""
    from privasi.policy import service as policies

    version = policies.require_current(session)
    key = (version.id, version.sha256, str(version.effective_date))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached, version.number
    policy = policies.to_policy(session, version)
    with _lock:
        _cache[key] = policy
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return policy, version.number
