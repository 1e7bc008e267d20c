"""Every change between two policies is listed; the ones needing advance notice are material."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from privasi.policy import Policy, diff_policies, policy_from_dict

from .helpers import POLICIES

BASE: dict[str, Any] = yaml.safe_load((POLICIES / "minimal.yaml").read_text("utf-8"))
OLD = policy_from_dict(BASE)
GONE = {"id": "Pesanan tidak dapat diproses.", "en": "Orders can no longer be processed."}


def _changed(edit: Callable[[dict[str, Any]], None]) -> Policy:
    raw = copy.deepcopy(BASE)
    edit(raw)
    return policy_from_dict(raw)


def _new_purpose(raw: dict[str, Any]) -> None:
    raw["purposes"].append(
        {
            "id": "loyalty",
            "name": {"id": "Poin loyalitas", "en": "Loyalty points"},
            "description": {"id": "Mencatat poin.", "en": "To record points."},
            "legal_basis": "consent",
            "categories": ["orders"],
            "withdrawal_consequences": {"id": "Poin dihapus.", "en": "Points are removed."},
        }
    )


def _new_category(raw: dict[str, Any]) -> None:
    raw["categories"].append(
        {"id": "location", "name": {"id": "Lokasi", "en": "Location"}, "sources": ["automatic"]}
    )
    raw["purposes"][0]["categories"].append("location")
    raw["retention"]["rules"][0]["categories"].append("location")


def _new_recipient(raw: dict[str, Any]) -> None:
    raw["recipients"].append(
        {"id": "courier", "name": "Kurir Kilat", "role": "processor", "countries": ["ID"],
         "purposes": ["orders"]}
    )  # fmt: skip


def _new_country(raw: dict[str, Any]) -> None:
    raw["recipients"][0]["countries"].append("JP")


def _longer_retention(raw: dict[str, Any]) -> None:
    raw["retention"]["rules"][0]["period"] = "P3Y"


def _weaker_basis(raw: dict[str, Any]) -> None:
    raw["purposes"][0]["legal_basis"] = "legitimate_interest"


def _weaker_safeguard(raw: dict[str, Any]) -> None:
    raw["recipients"][0]["transfer_safeguard"] = "consent"


def _slower_answers(raw: dict[str, Any]) -> None:
    raw["rights"]["default_deadline"] = "P30D"


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [
        (_new_purpose, "purposes.loyalty", "new purpose"),
        (_new_category, "categories.location", "new category of personal data"),
        (_new_recipient, "recipients.courier", "new recipient"),
        (_new_country, "recipients.mailer.countries", "new transfer country JP"),
        (_longer_retention, "retention.rules.orders.period", "longer retention"),
        (_weaker_basis, "purposes.orders.legal_basis", "weaker legal basis"),
        (_weaker_safeguard, "recipients.mailer.transfer_safeguard", "weaker transfer safeguard"),
        (_slower_answers, "rights.default_deadline", "longer answer time"),
    ],
)
def test_material_changes(edit: Callable[[dict[str, Any]], None], path: str, reason: str) -> None:
    result = diff_policies(OLD, _changed(edit))
    assert result.has_material
    flagged = {(c.path, c.reason) for c in result.material}
    assert (path, reason) in flagged
    assert "UU PDP Pasal 21(2)" in result.text()


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda r: r["purposes"][0]["description"].update(en="To handle orders."),
         "purposes.orders.description.en"),
        (lambda r: r["retention"]["rules"][0].update(period="P1Y"),
         "retention.rules.orders.period"),
        (lambda r: r["purposes"][1].update(legal_basis="consent"), None),
        (lambda r: r["purposes"][0].update(legal_basis="consent", withdrawal_consequences=GONE),
         ["purposes.orders.legal_basis", "purposes.orders.withdrawal_consequences"]),
        (lambda r: r.update(effective_date="2026-09-01"), "effective_date"),
        (lambda r: r["recipients"].clear(), "recipients.mailer"),
    ],
)  # fmt: skip
def test_non_material_changes(
    edit: Callable[[dict[str, Any]], None], path: str | list[str] | None
) -> None:
    result = diff_policies(OLD, _changed(edit))
    assert not result.has_material, result.text()
    expected = path if isinstance(path, list) else [path] if path else []
    assert [c.path for c in result.changes] == expected


def test_identical_policies() -> None:
    result = diff_policies(OLD, OLD)
    assert result.changes == []
    assert result.text() == "No changes.\n"


def test_structured_result() -> None:
    result = diff_policies(OLD, _changed(_longer_retention))
    (change,) = result.changes
    assert (change.kind, change.old, change.new, change.material) == (
        "changed",
        "P2Y",
        "P3Y",
        True,
    )
    assert result.as_dict()["material"] is True
