"""The cookie banner's script and its choice endpoint, without a browser (see test_banner_browser).

The organisation runs the digimetalab example policy: essential, analytics (Google Analytics 4),
preference and performance cookies.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from privasi.consent import service as consent
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.subjects import service as subjects

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VISITOR = "3f1c9a7e5b2d4c8f9e0a1b2c3d4e5f60"
CONFIG_RE = re.compile(r"var C = (\{.*?\});\n", re.S)


def publish(db: Any, org: Any, edit: Callable[[dict], None] | None = None, day: int = 1) -> None:
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = f"2026-01-{day:02d}"
    if edit is not None:
        edit(doc)
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")


@pytest.fixture
def site(db: Any, make_org: Any) -> Any:
    org = make_org("studio-web")
    publish(db, org)
    return org


def config_of(script: str) -> dict[str, Any]:
    match = CONFIG_RE.search(script)
    assert match, "the script carries its settings"
    return json.loads(match.group(1))


def choose(client: Any, org: Any, method: str, choices: dict[str, bool], **extra: Any) -> Any:
    headers = {"Content-Type": "text/plain", "Origin": "https://shop.example"}
    headers.update(extra.pop("headers", {}))
    body = {
        "visitor": VISITOR,
        "choices": choices,
        "method": method,
        "lang": "id",
        "page": "https://shop.example/produk?email=rahasia@contoh.example#x",
        **extra,
    }
    return client.post(f"/consent/{org.slug}/choice", content=json.dumps(body), headers=headers)


def state(db: Any, org: Any, category: str) -> str:
    with db.session(org.id) as s:
        visitor = subjects.find_by_identifier(s, "visitor", VISITOR)
        assert visitor is not None
        return consent.check(s, [visitor.id], consent.cookie_purpose(category))[0].reason


def events(db: Any, org: Any) -> list[Any]:
    with db.session(org.id) as s:
        visitor = subjects.find_by_identifier(s, "visitor", VISITOR)
        return consent.history(s, visitor.id) if visitor else []


def test_the_script_is_small_bilingual_and_built_from_the_policy(client: Any, site: Any) -> None:
    response = client.get(f"/consent/{site.slug}/banner.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert len(gzip.compress(response.content)) < 12 * 1024
    config = config_of(response.text)
    assert [(c["id"], c["locked"]) for c in config["categories"]] == [
        ("essential", True),
        ("analytics", False),
        ("preference", False),
        ("performance", False),
    ]
    analytics = config["categories"][1]
    assert "Google Analytics 4" in analytics["description"]["en"]
    assert "Google Analytics 4" in analytics["description"]["id"]
    assert config["text"]["id"]["reject"] == "Tolak semua"
    assert config["text"]["en"]["reject"] == "Reject all"
    assert config["endpoint"] == f"http://testserver/consent/{site.slug}/choice"
    assert config["gpc"] is False
    with_gpc = config_of(
        client.get(f"/consent/{site.slug}/banner.js", headers={"Sec-GPC": "1"}).text
    )
    assert with_gpc["gpc"] is True
    assert "Sec-GPC" in response.headers["vary"]
    # Revalidated each time: unchanged, the browser keeps its copy; a new policy reaches it at once.
    again = client.get(
        f"/consent/{site.slug}/banner.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_no_banner_for_an_unknown_organisation(client: Any) -> None:
    response = client.get("/consent/tidak-ada/banner.js")
    assert response.status_code == 404
    assert "no banner" in response.text


def test_the_banner_asks_again_when_cookie_categories_change(
    client: Any, db: Any, site: Any
) -> None:
    before = config_of(client.get(f"/consent/{site.slug}/banner.js").text)["rev"]

    def add_advertising(doc: dict) -> None:
        doc["cookies"].append(
            {"category": "advertising", "description": {"id": "Iklan.", "en": "Adverts."}}
        )

    publish(db, site, add_advertising, day=2)
    after = config_of(client.get(f"/consent/{site.slug}/banner.js").text)
    assert after["rev"] != before
    assert "advertising" in [c["id"] for c in after["categories"]]


def test_accept_all_is_recorded_as_consent_per_category(client: Any, db: Any, site: Any) -> None:
    response = choose(
        client, site, "accept_all", {"analytics": True, "preference": True, "performance": True}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["categories"] == {
        "essential": True,
        "analytics": True,
        "preference": True,
        "performance": True,
    }
    assert state(db, site, "analytics") == "consent"
    recorded = events(db, site)
    assert {e.purpose for e in recorded} == {
        "cookie:analytics",
        "cookie:preference",
        "cookie:performance",
    }
    first = recorded[0]
    assert (first.channel, first.method, first.language) == ("web", "button", "id")
    assert first.source == "https://shop.example/produk"  # no query string: it held an address
    # Repeating the same choice records nothing new.
    choose(client, site, "accept_all", {"analytics": True, "preference": True, "performance": True})
    assert len(events(db, site)) == 3


def test_reject_all_leaves_evidence_once_and_withdraws_an_earlier_yes(
    client: Any, db: Any, site: Any
) -> None:
    choose(client, site, "reject_all", {})
    assert state(db, site, "analytics") == "withdrawn"
    assert len(events(db, site)) == 3
    choose(client, site, "reject_all", {})
    assert len(events(db, site)) == 3
    choose(client, site, "choose", {"preference": True})
    assert state(db, site, "preference") == "consent"
    assert state(db, site, "analytics") == "withdrawn"
    assert events(db, site)[-1].method == "checkbox"


def test_gpc_keeps_analytics_off_whatever_the_button(client: Any, db: Any, site: Any) -> None:
    response = choose(
        client,
        site,
        "accept_all",
        {"analytics": True, "preference": True, "performance": True},
        headers={"Sec-GPC": "1"},
    )
    assert response.json()["categories"]["analytics"] is False
    assert response.json()["categories"]["preference"] is True
    assert state(db, site, "analytics") == "withdrawn"
    by_gpc = [e for e in events(db, site) if e.purpose == "cookie:analytics"]
    assert [e.method for e in by_gpc] == ["gpc"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([1]),
        json.dumps({"visitor": "x", "choices": {}, "method": "accept_all"}),
        json.dumps({"visitor": VISITOR, "choices": {"analytics": "yes"}, "method": "accept_all"}),
        json.dumps({"visitor": VISITOR, "choices": {}, "method": "sure"}),
    ],
)
def test_bad_choices_are_refused_with_a_problem(client: Any, site: Any, body: str) -> None:
    response = client.post(
        f"/consent/{site.slug}/choice", content=body, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["access-control-allow-origin"] == "*"


def test_preflight_and_gpc_declaration(client: Any, site: Any) -> None:
    preflight = client.options(f"/consent/{site.slug}/choice")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    gpc = client.get("/.well-known/gpc.json")
    assert gpc.status_code == 200
    assert gpc.json()["gpc"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", gpc.json()["lastUpdate"])


def test_choices_from_one_network_are_capped_per_hour(
    app: Any, site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from privasi.consent.banner import service as banner_service

    monkeypatch.setattr(banner_service, "CHOICES_PER_HOUR", 3)
    client = TestClient(app, client=("203.0.113.7", 50000))
    first = choose(client, site, "reject_all", {"analytics": False}, visitor="visitor-aaaaaaaa01")
    assert first.status_code == 200  # a first refusal records one event per category
    refused = choose(client, site, "accept_all", {"analytics": True}, visitor="visitor-aaaaaaaa02")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "600"
    assert refused.headers["access-control-allow-origin"] == "*"
