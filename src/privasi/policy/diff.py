"""Every change between two versions of a policy, with the material ones flagged.

UU PDP Pasal 21(2) requires telling people before a change to what they were told takes effect.
A change is *material* when it lets the organisation do more with personal data than before:

- a new purpose, data category, recipient or cookie category;
- a purpose using more categories, or a recipient receiving more (purposes, data);
- a new transfer country, or a weaker transfer safeguard;
- a longer retention period (or a new rule or clock start that can keep data longer);
- a weaker legal basis, a purpose turning into marketing;
- looser AI minimisation, a provider now training on data, aggregates no longer enforced;
- a longer promised answer time, a lower minimum age or minors newly accepted, a law dropped.

Legal bases are ordered by how much say the person keeps, strongest first:
consent > contract > legal_obligation > vital_interest > public_task > legitimate_interest.
Consent can be refused and withdrawn at any time; a contract is entered by choice and limits
processing to what it needs; a legal obligation and a vital interest are fixed by law or
circumstance; a public task is set by an authority; a legitimate interest rests only on the
organisation's own balancing test. Moving right in this order is weaker and therefore material.

Removals and narrowing (less data, fewer recipients, shorter periods) are reported but are not
material: they need no advance notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from privasi.policy.periods import Period
from privasi.policy.schema import Policy
from privasi.policy.vocab import LegalBasis, RequestType, Safeguard

BASIS_ORDER = [
    LegalBasis.consent,
    LegalBasis.contract,
    LegalBasis.legal_obligation,
    LegalBasis.vital_interest,
    LegalBasis.public_task,
    LegalBasis.legitimate_interest,
]
SAFEGUARD_ORDER = [Safeguard.equal_protection, Safeguard.binding_safeguards, Safeguard.consent]
ENTITY_ORDER = ["block", "pseudonymize", "pass"]

# Lists whose items are matched by a key rather than by position.
_LIST_KEYS = {
    "categories": "id",
    "subjects": "id",
    "states": "id",
    "purposes": "id",
    "recipients": "id",
    "systems": "id",
    "rules": "id",
    "cookies": "category",
    "tables": "name",
    "columns": "name",
    "tools": "name",
}

Path = tuple[str, ...]


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added | removed | changed
    old: Any
    new: Any
    material: bool
    reason: str

    def line(self) -> str:
        flag = "MATERIAL" if self.material else "minor   "
        if self.kind == "added":
            what = f"added {_short(self.new)}"
        elif self.kind == "removed":
            what = f"removed {_short(self.old)}"
        else:
            what = f"{_short(self.old)} -> {_short(self.new)}"
        return f"{flag} {self.path}: {what} ({self.reason})"


@dataclass
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)

    @property
    def material(self) -> list[Change]:
        return [c for c in self.changes if c.material]

    @property
    def has_material(self) -> bool:
        return any(c.material for c in self.changes)

    def text(self) -> str:
        if not self.changes:
            return "No changes.\n"
        head = (
            f"{len(self.changes)} change(s), {len(self.material)} material: tell people before "
            "the new version takes effect (UU PDP Pasal 21(2)).\n"
            if self.has_material
            else f"{len(self.changes)} change(s), none material.\n"
        )
        return head + "".join(c.line() + "\n" for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "material": self.has_material,
            "changes": [c.__dict__ for c in self.changes],
        }


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    raw: list[tuple[Path, str, Any, Any]] = []
    _walk(old.model_dump(mode="json"), new.model_dump(mode="json"), (), raw)
    changes = [_classify(old, new, path, kind, a, b) for path, kind, a, b in raw]
    return PolicyDiff(changes)


def _walk(old: Any, new: Any, path: Path, out: list[tuple[Path, str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = (*path, str(key))
            if key not in new:
                out.append((sub, "removed", old[key], None))
            elif key not in old:
                out.append((sub, "added", None, new[key]))
            else:
                _walk(old[key], new[key], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = _LIST_KEYS.get(path[-1]) if path else None
        if key and all(isinstance(i, dict) for i in old + new):
            _walk({i[key]: i for i in old}, {i[key]: i for i in new}, path, out)
            return
        if all(not isinstance(i, dict | list) for i in old + new):
            out.extend((path, "removed", i, None) for i in old if i not in new)
            out.extend((path, "added", None, i) for i in new if i not in old)
            return
    if old != new:
        if old is None:
            out.append((path, "added", None, new))
        elif new is None:
            out.append((path, "removed", old, None))
        else:
            out.append((path, "changed", old, new))


def _later(order: list[Any], old: Any, new: Any) -> bool:
    try:
        return order.index(new) > order.index(old)
    except ValueError:
        return False


def _longer(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return new is None and old is not None  # no limit any more
    return Period.parse(new) > Period.parse(old)


def _iso(period: Period | None) -> str | None:
    return period.iso() if period is not None else None


def _max_retention(policy: Policy, category: str) -> float:
    return max(
        (r.period.approx_days() for r in policy.retention.rules if category in r.categories),
        default=0.0,
    )


def _classify(old: Policy, new: Policy, path: Path, kind: str, a: Any, b: Any) -> Change:
    text = ".".join(path)

    def result(material: bool, reason: str) -> Change:
        return Change(text, kind, a, b, material, reason)

    added, removed = kind == "added", kind == "removed"
    head, tail = path[0], path[2:]
    if removed and len(path) == 2 and head in _LIST_KEYS:
        return result(False, "less processing; no advance notice needed")
    if head in ("effective_date", "schema_version"):
        return result(False, "version bookkeeping")
    if head == "purposes":
        if added and len(path) == 2:
            return result(True, "new purpose")
        if tail == ("categories",) and added:
            return result(True, "the purpose uses more personal data")
        if tail == ("legal_basis",):
            weaker = _later(BASIS_ORDER, a, b)
            return result(weaker, "weaker legal basis" if weaker else "stronger legal basis")
        if tail == ("kind",) and b == "marketing":
            return result(True, "the purpose now sends marketing")
        if tail == ("subjects",) and added:
            return result(True, "the purpose now covers more kinds of people")
    if head == "categories" and added and len(path) == 2:
        return result(True, "new category of personal data")
    if head == "recipients":
        if added and len(path) == 2:
            return result(True, "new recipient")
        if tail == ("countries",) and added:
            return result(True, f"new transfer country {b}")
        if tail in (("purposes",), ("categories",)) and added:
            return result(True, "the recipient receives more")
        if tail == ("transfer_safeguard",):
            weaker = a is None or _later(SAFEGUARD_ORDER, a, b)
            return result(weaker, "weaker transfer safeguard" if weaker else "stronger safeguard")
        if tail == ("aggregate_only",) and a and not b:
            return result(True, "the recipient now gets data about individuals")
        if tail == ("trains_on_data",) and b:
            return result(True, "the AI provider now trains on the data")
        if tail[:1] == ("entity_rules",) or tail == ("default_entity_action",):
            looser = removed or _later(ENTITY_ORDER, a, b)
            return result(looser, "looser minimisation before AI" if looser else "stricter")
    if head == "retention" and len(path) >= 3 and path[1] == "rules":
        if added and len(path) == 3:
            rule = next(r for r in new.retention.rules if r.id == path[2])
            grows = any(rule.period.approx_days() > _max_retention(old, c) for c in rule.categories)
            return result(grows, "data kept longer" if grows else "covered no longer than before")
        if removed and len(path) == 3:
            return result(False, "retention rule removed")
        if path[3:] == ("period",):
            longer = _longer(a, b)
            return result(longer, "longer retention" if longer else "shorter retention")
        if path[3:] == ("start",):
            return result(True, "the retention clock starts at a different event")
        if path[3:] in (("categories",), ("subject_states",)) and added:
            return result(True, "the rule keeps more data for its period")
    if head == "rights" and len(path) >= 2 and path[1] in ("deadlines", "default_deadline"):
        slower = any(
            _longer(_iso(old.rights_deadline(rt)), _iso(new.rights_deadline(rt)))
            for rt in RequestType
        )
        return result(slower, "longer answer time" if slower else "answer time not longer")
    if head == "minors":
        if path[1:] == ("minimum_age",) and b < a:
            return result(True, "younger people accepted")
        if path[1:] == ("guardian_consent",) and b:
            return result(True, "minors accepted with a guardian's consent")
    if head == "cookies" and added and len(path) == 2:
        return result(True, "new kind of cookie")
    if head == "jurisdictions" and removed:
        return result(True, "a law's protection is no longer applied")
    return result(False, "detail or wording")


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
