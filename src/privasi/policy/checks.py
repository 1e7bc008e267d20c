"""Rules that span sections of the policy: references resolve, ids are unique, nothing is sold.

Each problem carries the path of the offending value so the loader can point at its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from privasi.policy.vocab import Language

if TYPE_CHECKING:
    from privasi.policy.schema import Policy

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def cross_check(policy: Policy) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append

    def unique(section: str, items: Iterable[Any], key: str = "id") -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(items):
            value = str(getattr(item, key))
            if value in seen:
                add(((section, i, key), f"duplicate {key} '{value}'"))
            seen.add(value)
        return seen

    def known(path: Path, values: Iterable[str], pool: set[str], what: str) -> None:
        for j, value in enumerate(values):
            if value not in pool:
                add(((*path, j), f"unknown {what} '{value}'"))

    categories = unique("categories", policy.categories)
    kinds = unique("subjects", policy.subjects)
    purposes = unique("purposes", policy.purposes)
    recipients = unique("recipients", policy.recipients)
    unique("systems", policy.systems)
    unique("cookies", policy.cookies, key="category")

    states: set[str] = set()
    for k, kind in enumerate(policy.subjects):
        for s, state in enumerate(kind.states):
            if state.id in states:
                add((("subjects", k, "states", s, "id"), f"duplicate subject state '{state.id}'"))
            states.add(state.id)

    if Language.id not in policy.languages:
        add((("languages",), "the notice must be offered in Bahasa Indonesia (id)"))

    purpose_categories = {p.id: set(p.categories) for p in policy.purposes}
    used: set[str] = set()
    for i, purpose in enumerate(policy.purposes):
        known(("purposes", i, "categories"), purpose.categories, categories, "category")
        known(("purposes", i, "subjects"), purpose.subjects, kinds, "subject kind")
        used.update(purpose.categories)
    for i, category in enumerate(policy.categories):
        if category.id not in used:
            add((("categories", i, "id"), f"category '{category.id}' is used by no purpose"))

    for i, recipient in enumerate(policy.recipients):
        known(("recipients", i, "purposes"), recipient.purposes, purposes, "purpose")
        known(("recipients", i, "categories"), recipient.categories, categories, "category")
        allowed = set().union(*(purpose_categories.get(p, set()) for p in recipient.purposes))
        for j, cat in enumerate(recipient.categories):
            if cat in categories and cat not in allowed:
                add(
                    (
                        ("recipients", i, "categories", j),
                        f"category '{cat}' is not used by any of this recipient's purposes",
                    )
                )
        for j, pid in enumerate(recipient.purposes):
            if pid in purposes and policy.purpose(pid).involves_sale:
                add(
                    (
                        ("recipients", i, "purposes", j),
                        f"purpose '{pid}' sells personal data: this policy promises "
                        "we never sell personal data, so no recipient may receive it for a sale",
                    )
                )

    for i, system in enumerate(policy.systems):
        known(("systems", i, "categories"), system.categories, categories, "category")
        for t, table in enumerate(system.tables):
            if table.subject_kind and table.subject_kind not in kinds:
                add(
                    (
                        ("systems", i, "tables", t, "subject_kind"),
                        f"unknown subject kind '{table.subject_kind}'",
                    )
                )
            for c, column in enumerate(table.columns):
                if column.category not in categories:
                    add(
                        (
                            ("systems", i, "tables", t, "columns", c, "category"),
                            f"unknown category '{column.category}'",
                        )
                    )

    rule_ids: set[str] = set()
    for i, rule in enumerate(policy.retention.rules):
        base: Path = ("retention", "rules", i)
        if rule.id in rule_ids:
            add(((*base, "id"), f"duplicate id '{rule.id}'"))
        rule_ids.add(rule.id)
        known((*base, "categories"), rule.categories, categories, "category")
        known((*base, "purposes"), rule.purposes, purposes, "purpose")
        known((*base, "subject_states"), rule.subject_states, states, "subject state")
        known((*base, "unless_states"), rule.unless_states, states, "subject state")

    for i, category in enumerate(policy.categories):
        if category.id in used and not _retained(policy, category.id):
            add(
                (
                    ("categories", i, "id"),
                    f"no retention rule says how long category '{category.id}' is kept",
                )
            )

    for i, cookie in enumerate(policy.cookies):
        for t, tool in enumerate(cookie.tools):
            if tool.recipient and tool.recipient not in recipients:
                add(
                    (
                        ("cookies", i, "tools", t, "recipient"),
                        f"unknown recipient '{tool.recipient}'",
                    )
                )
    return problems


def _retained(policy: Policy, category: str) -> bool:
    for rule in policy.retention.rules:
        if category in rule.categories:
            return True
        if not rule.categories:
            if not rule.purposes:
                return True
            if any(category in p.categories for p in policy.purposes if p.id in rule.purposes):
                return True
    return False
