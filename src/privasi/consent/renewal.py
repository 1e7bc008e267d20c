"""Consent after a material policy change (UU PDP Pasal 21(2)).

A grant was given for the terms of one notice. When a new version changes what a consent-based
purpose does (more data, new recipients, longer retention, a weaker basis...), the old grant must
not silently cover the new terms: from the new version's effective date the check answers
"expired" for that purpose until the person consents again (a new grant clears the mark).

This module decides which purposes a change touches and marks the grants; telling people is
``privasi.notify.material``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.consent import service as consent
from privasi.consent.models import ConsentState
from privasi.db import PrivasiSession
from privasi.orgs.service import Principal, system_principal
from privasi.policy.diff import PolicyDiff
from privasi.policy.models import PolicyVersion
from privasi.policy.schema import Policy
from privasi.policy.vocab import LegalBasis

# Why a purpose needs fresh consent, in the words people read (id, en).
REASONS: dict[str, dict[str, str]] = {
    "more_data": {
        "id": "memakai lebih banyak jenis data pribadi",
        "en": "uses more kinds of personal data",
    },
    "marketing": {"id": "kini dipakai untuk pemasaran", "en": "is now used for marketing"},
    "more_people": {
        "id": "kini mencakup lebih banyak kelompok orang",
        "en": "now covers more groups of people",
    },
    "basis": {"id": "dasar hukumnya berubah", "en": "its legal basis changes"},
    "recipient": {
        "id": "data dibagikan kepada penerima baru atau lebih banyak data dibagikan",
        "en": "data is shared with a new recipient, or more data is shared",
    },
    "transfer": {
        "id": "data dikirim ke negara lain atau dengan perlindungan yang lebih lemah",
        "en": "data goes to another country, or with weaker safeguards",
    },
    "ai": {
        "id": "pengolahan oleh penyedia AI menjadi lebih longgar",
        "en": "an AI provider may do more with the data",
    },
    "retention": {"id": "data disimpan lebih lama", "en": "data is kept longer"},
    "other": {"id": "ketentuannya berubah", "en": "its terms change"},
}


@dataclass
class Touched:
    """Purposes whose consent a change touches, each with the reasons (keys of ``REASONS``)."""

    purposes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, purpose: str, reason: str) -> None:
        reasons = self.purposes.setdefault(purpose, [])
        if reason not in reasons:
            reasons.append(reason)


def _purpose_reason(tail: tuple[str, ...]) -> str:
    if tail[:1] == ("categories",):
        return "more_data"
    if tail[:1] == ("kind",):
        return "marketing"
    if tail[:1] == ("subjects",):
        return "more_people"
    if tail[:1] == ("legal_basis",):
        return "basis"
    return "other"


def _recipient_reason(tail: tuple[str, ...]) -> str:
    if tail[:1] in (("countries",), ("transfer_safeguard",)):
        return "transfer"
    if tail[:1] in (("trains_on_data",), ("entity_rules",), ("default_entity_action",)):
        return "ai"
    return "recipient"


def touched_purposes(diff: PolicyDiff, new: Policy) -> Touched:
    """The consent-based purposes of ``new`` whose material changes need fresh consent.

    A purpose that is new needs no renewal (nobody consented to it yet); a purpose no longer based
    on consent needs none either (the check no longer asks for consent). Changes that touch no
    purpose (answer times, minors, cookies: the banner asks again itself) are not counted here.
    """
    touched = Touched()
    for change in diff.material:
        path = tuple(change.path.split("."))
        head = path[0]
        if head == "purposes" and len(path) >= 3:
            touched.add(path[1], _purpose_reason(path[2:]))
        elif head == "recipients" and len(path) >= 2:
            try:
                recipient = new.recipient(path[1])
            except KeyError:
                continue
            reason = "recipient" if len(path) == 2 else _recipient_reason(path[2:])
            for purpose_id in recipient.purposes:
                touched.add(purpose_id, reason)
        elif head == "retention" and len(path) >= 3 and path[1] == "rules":
            rule = next((r for r in new.retention.rules if r.id == path[2]), None)
            if rule is None:
                continue
            for item in new.purposes:
                scoped = (not rule.purposes or item.id in rule.purposes) and (
                    not rule.categories or set(rule.categories) & set(item.categories)
                )
                if scoped:
                    touched.add(item.id, "retention")
    consented = {p.id for p in new.purposes if p.legal_basis is LegalBasis.consent}
    return Touched({p: r for p, r in touched.purposes.items() if p in consented})


def mark_needs_renewal(
    session: PrivasiSession,
    subject_id: str,
    purpose: str,
    version: PolicyVersion,
    *,
    principal: Principal | None = None,
) -> bool:
    """From the version's effective date, the subject's standing grant for ``purpose`` no longer
    covers the terms. False when there is no grant given under an older version (nothing to do,
    or already marked). Audited, in the caller's transaction."""
    assert version.effective_date is not None, "only published versions have an effective date"
    already = session.scalar(
        select(ConsentState.renew_version).where(
            ConsentState.subject_id == subject_id, ConsentState.purpose == purpose
        )
    )
    if already is not None and already >= version.number:
        return False  # marked by an earlier run: no second audit event
    marked = consent.mark_renewal(
        session, subject_id, purpose, version.number, version.effective_date
    )
    if marked:
        audit.record(
            session,
            principal or system_principal(session.require_org(), "material-change"),
            "consent.renewal_required",
            subject_id=subject_id,
            purpose=purpose,
            details={
                "policy_version": version.number,
                "effective_date": version.effective_date.isoformat(),
            },
        )
    return marked


def reasons_text(reasons: list[str], lang: str) -> list[str]:
    return [REASONS.get(r, REASONS["other"])[lang] for r in reasons]
