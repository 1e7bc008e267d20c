"""Records of processing activities (UU PDP Pasal 31): one row per purpose x category x recipient.

A purpose and category that nobody outside receives still gets a row (with no recipient), since
the record must list every processing activity, not only disclosures.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields

from privasi import csvsafe
from privasi.policy.catalogue import Phrases
from privasi.policy.render import retention_phrase
from privasi.policy.schema import Policy, Recipient, RetentionRule


@dataclass(frozen=True)
class RopaRow:
    purpose_id: str
    purpose: str
    processing_role: str
    legal_basis: str
    category_id: str
    category: str
    sensitivity: str
    data_subjects: str
    recipient_id: str
    recipient: str
    recipient_role: str
    countries: str
    transfer_safeguard: str
    retention: str
    systems: str


COLUMNS = [f.name for f in fields(RopaRow)]


def _receives(recipient: Recipient, purpose_id: str, category_id: str) -> bool:
    if purpose_id not in recipient.purposes:
        return False
    return not recipient.categories or category_id in recipient.categories


def _retention_text(policy: Policy, rule: RetentionRule, t: Phrases) -> str:
    text = retention_phrase(rule, t)
    if rule.subject_states:
        states = [policy.subject_state(s).name.get(t.lang) for s in rule.subject_states]
        text += f" ({', '.join(states)})"
    return text


def ropa_rows(policy: Policy, lang: str = "en") -> list[RopaRow]:
    t = Phrases(lang)
    holders: dict[str, list[str]] = {}
    for system in policy.systems:
        for cat in system.all_categories():
            holders.setdefault(cat, []).append(system.id)
    rows = []
    for purpose in policy.purposes:
        subjects = [
            k.name.get(lang)
            for k in policy.subjects
            if not purpose.subjects or k.id in purpose.subjects
        ]
        for cat_id in purpose.categories:
            category = policy.category(cat_id)
            retention = "; ".join(
                _retention_text(policy, rule, t)
                for rule in policy.retention_for(category=cat_id, purpose=purpose.id)
            )
            base = {
                "purpose_id": purpose.id,
                "purpose": purpose.name.get(lang),
                "processing_role": purpose.processing_role.value,
                "legal_basis": purpose.legal_basis.value,
                "category_id": cat_id,
                "category": category.name.get(lang),
                "sensitivity": category.specific_kind.value
                if category.specific_kind
                else category.sensitivity.value,
                "data_subjects": ", ".join(subjects),
                "retention": retention,
                "systems": ", ".join(holders.get(cat_id, [])),
            }
            receivers = [r for r in policy.recipients if _receives(r, purpose.id, cat_id)]
            if not receivers:
                rows.append(
                    RopaRow(
                        **base,
                        recipient_id="",
                        recipient="",
                        recipient_role="",
                        countries="",
                        transfer_safeguard="",
                    )
                )
            for r in receivers:
                rows.append(
                    RopaRow(
                        **base,
                        recipient_id=r.id,
                        recipient=r.display(lang),
                        recipient_role=r.role.value,
                        countries=", ".join(r.countries),
                        transfer_safeguard=r.transfer_safeguard.value
                        if r.transfer_safeguard
                        else "",
                    )
                )
    return rows


def ropa_csv(policy: Policy, lang: str = "en") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in ropa_rows(policy, lang):
        writer.writerow(csvsafe.row(asdict(row)))
    return out.getvalue()


def ropa_markdown(policy: Policy, lang: str = "en") -> str:
    org = policy.organisation
    title = Phrases(lang)("ropa.title")
    lines = [
        f"# {title}: {org.legal_name}",
        "",
        f"UU PDP Pasal 31 · {policy.effective_date.isoformat()} · {org.role.value}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in ropa_rows(policy, lang):
        cells = [str(v).replace("|", "\\|") for v in asdict(row).values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
