"""Bad policy files are refused with every problem located by file, line and field."""

from __future__ import annotations

import pytest
import yaml

from privasi.policy import PolicyError, load_policy, parse_policy

from .helpers import POLICIES


def _problems(name: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / name)
    return [str(p) for p in info.value.problems]


def _line_of(name: str, needle: str, occurrence: int = 1) -> int:
    lines = (POLICIES / name).read_text("utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


def test_minimal_policy_is_valid() -> None:
    policy = load_policy(POLICIES / "minimal.yaml")
    assert policy.organisation.slug == "kopi-contoh"


def test_unknown_category() -> None:
    line = _line_of("bad_unknown_category.yaml", "loyalty_points")
    assert _problems("bad_unknown_category.yaml") == [
        f"bad_unknown_category.yaml:{line}: purposes[1].categories[1]: "
        "unknown category 'loyalty_points'"
    ]


def test_duplicate_id() -> None:
    # The category "orders" comes first, then the two purposes with that id.
    line = _line_of("bad_duplicate_id.yaml", "- id: orders", occurrence=3)
    problems = _problems("bad_duplicate_id.yaml")
    assert f"bad_duplicate_id.yaml:{line}: purposes[1].id: duplicate id 'orders'" in problems


def test_sale_purpose_is_rejected() -> None:
    line = _line_of("bad_sale.yaml", "purposes: [newsletter, list_rental]")
    (problem,) = _problems("bad_sale.yaml")
    assert problem.startswith(f"bad_sale.yaml:{line}: recipients[0].purposes[1]: ")
    assert "never sell" in problem


def test_invalid_period() -> None:
    line = _line_of("bad_period.yaml", "period: two years")
    (problem,) = _problems("bad_period.yaml")
    assert problem.startswith(f"bad_period.yaml:{line}: retention.rules[0].period: ")
    assert "'two years' is not a period" in problem


def test_yaml_syntax_error_points_at_the_unclosed_list() -> None:
    opened = _line_of("bad_yaml.yaml", "categories: [contact, orders")
    (problem,) = _problems("bad_yaml.yaml")
    assert problem.startswith("bad_yaml.yaml:")
    assert "YAML syntax error" in problem
    assert f"started at line {opened}" in problem


MINIMAL = (POLICIES / "minimal.yaml").read_text("utf-8")


def _parse_edit(old: str, new: str) -> list[str]:
    assert old in MINIMAL
    with pytest.raises(PolicyError) as info:
        parse_policy(MINIMAL.replace(old, new, 1), "upload.yaml")
    return [str(p) for p in info.value.problems]


def test_several_problems_reported_at_once() -> None:
    problems = _parse_edit("legal_basis: contract", "legal_basis: contrakt\n    colour: blue")
    assert any("purposes[0].legal_basis" in p for p in problems)
    assert any("unknown field 'colour'" in p for p in problems)
    assert all(p.startswith("upload.yaml:") for p in problems)


def test_recipient_abroad_needs_a_safeguard() -> None:
    (problem,) = _parse_edit("    transfer_safeguard: binding_safeguards\n", "")
    assert "recipients[0]" in problem and "Pasal 56" in problem


def test_domestic_recipient_takes_no_safeguard() -> None:
    (problem,) = _parse_edit("countries: [SG]", "countries: [ID]")
    assert "only for recipients outside Indonesia" in problem


def test_unknown_country_code() -> None:
    (problem,) = _parse_edit("countries: [SG]", "countries: [XX]")
    assert "'XX' is not a known ISO 3166 country code" in problem


def test_duplicate_yaml_key() -> None:
    (problem,) = _parse_edit("  brand: Kopi Contoh\n", "  brand: Kopi Contoh\n  brand: Kopi Lain\n")
    assert "organisation.brand" in problem and "twice" in problem


def test_secret_in_url_is_refused() -> None:
    system = (
        "systems:\n  - id: shop\n    name: Shop API\n    kind: http\n    credential: shop_api\n"
        "    base_url: https://admin:hunter2@shop.example/api\nretention:"
    )
    (problem,) = _parse_edit("retention:", system)
    assert "contains a password" in problem
    assert "hunter2" not in problem  # the secret itself is never echoed


def test_sql_system_needs_a_named_credential() -> None:
    system = "systems:\n  - id: db\n    name: Shop DB\n    kind: sql\nretention:"
    (problem,) = _parse_edit("retention:", system)
    assert "credential" in problem


def test_marketing_needs_consent() -> None:
    problems = _parse_edit(
        "legal_basis: consent\n    kind: marketing", "legal_basis: contract\n    kind: marketing"
    )
    assert any("marketing rests on consent" in p for p in problems)


def test_category_without_retention_rule() -> None:
    problems = _parse_edit(
        "categories: [contact, orders]\n      period", "categories: [contact]\n      period"
    )
    assert any("no retention rule says how long category 'orders'" in p for p in problems)


def test_minimum_longer_than_period() -> None:
    (problem,) = _parse_edit("period: P2Y", "period: P2Y\n      minimum: P5Y")
    assert "minimum P5Y is longer than the period P2Y" in problem


def test_essential_cookies_are_locked() -> None:
    problems = _parse_edit("security:", "cookies:\n  - category: essential\nsecurity:")
    assert any("essential cookies cannot be switched off" in p for p in problems)


def test_time_zone_is_checked() -> None:
    (problem,) = _parse_edit("Asia/Jakarta", "Asia/Atlantis")
    assert "organisation.time_zone" in problem


def test_problem_is_reported_as_structured_data() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(MINIMAL.replace("countries: [SG]", "countries: [XX]"), "upload.yaml")
    (problem,) = info.value.problems
    assert problem.source == "upload.yaml"
    assert problem.path == "recipients[0].countries"
    assert problem.line == MINIMAL.splitlines().index("    countries: [SG]") + 1
    assert info.value.status == 422


def test_direct_model_validation_also_runs_the_cross_checks() -> None:
    from pydantic import ValidationError

    from privasi.policy import Policy

    raw = yaml.safe_load((POLICIES / "bad_sale.yaml").read_text("utf-8"))
    with pytest.raises(ValidationError, match="never sell"):
        Policy.model_validate(raw)


def test_consent_purpose_states_what_withdrawal_does() -> None:
    (problem,) = _parse_edit(
        "    withdrawal_consequences: {id: Buletin tidak dikirim lagi., en: No more newsletters.}\n",
        "",
    )
    assert "purposes[1]" in problem and "withdrawal_consequences" in problem
