"""Policy versions: list, view, upload a draft, diff with material changes marked, publish."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "digimetalab.yaml"


def _source(slug: str, *, more_data: bool = False, reworded: bool = False) -> str:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = slug
    doc["effective_date"] = "2026-01-01"
    for purpose in doc["purposes"]:
        if purpose["id"] == "marketing" and more_data:
            purpose["categories"] = [*purpose["categories"], "location"]
        if purpose["id"] == "marketing" and reworded:
            purpose["description"]["en"] = "Occasional news about our services."
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _upload(client: Any, pages: Any, source: str, *, as_file: bool = True) -> Any:
    token = pages.csrf(client.get("/admin/policy"))
    if as_file:
        files = {"file": ("kebijakan.yaml", source.encode(), "application/x-yaml")}
        return client.post(
            "/admin/policy", data={"csrf_token": token}, files=files, follow_redirects=False
        )
    return client.post(
        "/admin/policy", data={"csrf_token": token, "source": source}, follow_redirects=False
    )


def test_dpo_uploads_compares_and_publishes(
    client: Any, pages: Any, sign_in: Any, publish: Any
) -> None:
    dpo = sign_in("dpo")
    publish(dpo)
    listing = client.get("/admin/policy?lang=en")
    assert listing.status_code == 200
    assert "Version 1" in listing.text and "In effect" in listing.text
    assert "Upload a new draft" in listing.text

    r = _upload(client, pages, _source(dpo.org_slug, more_data=True, reworded=True))
    assert r.status_code == 303 and r.headers["location"] == "/admin/policy/2"
    page = client.get("/admin/policy/2?lang=en")
    assert "Version 2 is stored as a draft." in page.text
    assert "Publish version 2" in page.text
    # before publishing, the page says what it would mean for people
    assert "This version has 1 material changes against version 1" in page.text
    assert "<article" in page.text  # the notice as people will read it

    diff = client.get("/admin/policy/2/diff?lang=en")
    assert diff.status_code == 200
    html = diff.text
    assert "Changes from version 1 to version 2" in html
    # the effective date moved to the day of publishing too: bookkeeping, not material
    assert "3 changes, 1 of them material" in html
    # the material change comes first, marked, with its reason
    rows = re.findall(r'<tr class="(change-material|change-minor)">', html)
    assert rows == ["change-material", "change-minor", "change-minor"]
    assert "purposes.marketing.categories" in html
    assert "the purpose uses more personal data" in html

    token = pages.csrf(client.get("/admin/policy/2"))
    r = client.post(
        "/admin/policy/2/publish",
        data={"csrf_token": token, "effective_date": "2999-01-31"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.get("/admin/policy/2?lang=en").text
    assert "Version 2 is published and takes effect on 31-01-2999." in after
    assert "It has 1 material changes" in after
    assert "Publish version 2" not in after
    # publishing twice is refused with a message, not an error page
    r = client.post("/admin/policy/2/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "This version is already published." in client.get("/admin/policy/2?lang=en").text or (
        "This version is already published." in r.text
    )


def test_invalid_file_shows_its_problems_and_stores_nothing(
    client: Any, pages: Any, sign_in: Any
) -> None:
    owner = sign_in("owner")
    broken = _source(owner.org_slug).replace("legal_basis: consent", "legal_basis: whim", 1)
    r = _upload(client, pages, broken, as_file=False)
    assert r.status_code == 400
    assert "The policy file has problems" in r.text or "Berkas kebijakan bermasalah" in r.text
    assert 'data-testid="policy-problems"' in r.text and "legal_basis" in r.text
    assert "whim" in r.text  # the pasted text is kept for correcting
    assert "Version 1" not in client.get("/admin/policy?lang=en").text
    other = _source("someone-else")
    r = _upload(client, pages, other)
    assert r.status_code == 400 and "someone-else" in r.text


def test_agent_reads_but_cannot_upload_or_publish(
    client: Any, pages: Any, sign_in: Any, publish: Any
) -> None:
    agent = sign_in("agent")
    publish(agent)
    listing = client.get("/admin/policy?lang=en")
    assert listing.status_code == 200 and "Upload a new draft" not in listing.text
    token = pages.csrf(listing)
    files = {"file": ("p.yaml", _source(agent.org_slug).encode(), "application/x-yaml")}
    r = client.post("/admin/policy", data={"csrf_token": token}, files=files)
    assert r.status_code == 403
    r = client.post("/admin/policy/1/publish", data={"csrf_token": token})
    assert r.status_code == 403


def test_upload_without_csrf_is_refused(client: Any, pages: Any, sign_in: Any) -> None:
    owner = sign_in("owner")
    files = {"file": ("p.yaml", _source(owner.org_slug).encode(), "application/x-yaml")}
    r = client.post("/admin/policy", data={"csrf_token": "forged"}, files=files)
    assert r.status_code == 403
    assert "Version 1" not in client.get("/admin/policy?lang=en").text


def test_another_organisations_version_is_not_found(
    client: Any, sign_in: Any, make_org: Any, publish_example: Any
) -> None:
    other = make_org("kedai-sebelah")
    publish_example(other)
    sign_in("auditor")
    assert client.get("/admin/policy/1").status_code == 404
    assert client.get("/admin/policy/1/diff?against=1").status_code == 404
    assert "kedai-sebelah" not in client.get("/admin/policy").text
