"""Anonymisation in a business table: identifiers become random tokens that lead nowhere,
quasi-identifiers are generalised (a birth date to its year, an age to its ten-year band), what
the policy keeps stays, and a second run changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from privasi.policy.schema import RetentionRule
from privasi.retention import rules
from privasi.retention import service as retention

from .conftest import T0, naive

SESSIONS = {
    "name": "sessions",
    "identity_column": "account_email",
    "columns": [
        {"name": "account_email", "category": "device", "erasure": "hash"},
        {"name": "ip_address", "category": "device", "erasure": "null"},
        {"name": "city", "category": "usage", "erasure": "null", "anonymise": "keep"},
        {"name": "birth_date", "category": "usage", "erasure": "null", "anonymise": "year"},
        {"name": "age", "category": "usage", "erasure": "null", "anonymise": "decade"},
    ],
    "timestamps": {"collected": "started_at"},
}


def _with_sessions(doc: dict[str, Any]) -> None:
    system = next(s for s in doc["systems"] if s["id"] == "crm_app")
    system["tables"].append(dict(SESSIONS))


def test_usage_and_device_data_is_anonymised_once(db: Any, business: Any) -> None:
    biz = business("crm", tweak=_with_sessions)
    old, fresh = naive(T0 - timedelta(days=400)), naive(T0 - timedelta(days=20))
    rows = [
        {
            "id": i,
            "account_email": f"akun{i}@contoh.example",
            "ip_address": f"203.0.113.{i}",
            "city": "Bandung",
            "birth_date": date(1988, 7, 14),
            "age": 37,
            "started_at": old if i <= 3 else fresh,
        }
        for i in range(1, 6)
    ]
    biz.insert("crm_app", "sessions", rows)

    run = retention.run_rule(db, biz.org_id, "usage_device", now=T0, owner="test")
    assert run.anonymised == 3
    found = {r["id"]: r for r in biz.rows("crm_app", "sessions")}
    tokens = set()
    for i in (1, 2, 3):
        row = found[i]
        assert row["account_email"].startswith("anon-") and "akun" not in row["account_email"]
        tokens.add(row["account_email"])
        assert row["ip_address"] is None
        assert row["city"] == "Bandung"
        assert row["birth_date"] == date(1988, 1, 1)
        assert row["age"] == 30
    assert len(tokens) == 3  # random per row: two rows of one person cannot be linked
    for i in (4, 5):
        assert found[i]["account_email"] == f"akun{i}@contoh.example"
        assert (found[i]["age"], found[i]["birth_date"]) == (37, date(1988, 7, 14))

    again = retention.run_rule(db, biz.org_id, "usage_device", now=T0, owner="test")
    assert again.anonymised == 0
    assert {r["id"]: r["account_email"] for r in biz.rows("crm_app", "sessions")}[1] == found[1][
        "account_email"
    ]


def test_a_rule_scoped_by_purposes_covers_their_categories(business: Any) -> None:
    policy = business("digimetalab").policy()
    by_purpose = RetentionRule.model_validate(
        {"id": "p", "purposes": ["marketing"], "period": "P1Y", "start": "collected"}
    )
    both = RetentionRule.model_validate(
        {
            "id": "q",
            "purposes": ["marketing"],
            "categories": ["contact", "chat"],
            "period": "P1Y",
            "start": "collected",
        }
    )
    assert rules.categories_of(policy, by_purpose) == {"contact", "marketing_preferences"}
    assert rules.categories_of(policy, both) == {"contact"}


def test_cutoffs_follow_the_calendar() -> None:
    rule = RetentionRule.model_validate(
        {"id": "r", "categories": ["x"], "period": "P26M", "start": "collected", "minimum": "P2Y"}
    )
    assert rules.cutoff(rule, T0) == T0.replace(year=2024, month=4)
    short = RetentionRule.model_validate(
        {"id": "s", "categories": ["x"], "period": "90d", "start": "collected"}
    )
    assert rules.cutoff(short, T0) == T0 - timedelta(days=90)
    start = T0.replace(month=3, day=31)
    month = RetentionRule.model_validate(
        {"id": "m", "categories": ["x"], "period": "P1M", "start": "collected"}
    )
    assert rules.expires_at(month, start) == start.replace(month=4, day=30)
