"""The law's own clocks per jurisdiction profile, and the deadline that binds: the stricter one.

``id-pdp`` follows UU PDP (Pasal 30, 32, 40, 41: 3 x 24 hours); erasure has no statutory clock,
so the policy's promise applies, else 30 days. ``gdpr`` gives one month (Art. 12(3)) and stops
processing at once after a withdrawal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from privasi.policy.periods import Period
from privasi.policy.vocab import Jurisdiction, RequestType

if TYPE_CHECKING:
    from privasi.policy.schema import Policy

_H72 = Period(hours=72)
_MONTH = Period(months=1)
FALLBACK = Period(days=30)

STATUTORY: dict[Jurisdiction, dict[RequestType, Period]] = {
    Jurisdiction.id_pdp: {
        RequestType.access: _H72,
        RequestType.processing_record: _H72,
        RequestType.portability: _H72,
        RequestType.rectification: _H72,
        RequestType.restriction: _H72,
        RequestType.objection: _H72,
        RequestType.automated_decision: _H72,
        RequestType.withdrawal: _H72,
    },
    Jurisdiction.gdpr: {
        RequestType.access: _MONTH,
        RequestType.processing_record: _MONTH,
        RequestType.portability: _MONTH,
        RequestType.rectification: _MONTH,
        RequestType.restriction: _MONTH,
        RequestType.objection: _MONTH,
        RequestType.automated_decision: _MONTH,
        RequestType.withdrawal: Period(),
        RequestType.erasure: _MONTH,
    },
}

BREACH_NOTICE: dict[Jurisdiction, Period] = {
    Jurisdiction.id_pdp: _H72,  # Pasal 46: to subjects and the authority
    Jurisdiction.gdpr: _H72,  # Art. 33: to the authority
}


def statutory_deadline(
    jurisdictions: list[Jurisdiction], request_type: RequestType
) -> Period | None:
    clocks = [STATUTORY[j][request_type] for j in jurisdictions if request_type in STATUTORY[j]]
    return min(clocks, key=Period.approx_days) if clocks else None


def effective_deadline(policy: Policy, request_type: RequestType | str) -> Period:
    """The time within which a request must be answered: the stricter of law and promise."""
    kind = RequestType(request_type)
    candidates = [
        p
        for p in (statutory_deadline(policy.jurisdictions, kind), policy.rights_deadline(kind))
        if p is not None
    ]
    return min(candidates, key=Period.approx_days) if candidates else FALLBACK


def breach_notice_deadline(policy: Policy) -> Period:
    return min((BREACH_NOTICE[j] for j in policy.jurisdictions), key=Period.approx_days)
