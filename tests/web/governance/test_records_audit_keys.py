"""Records of processing (table and CSV), the audit log (filters, pages, chain check), API keys."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from sqlalchemy import update

from privasi.audit.models import AuditEvent
from privasi.db import Database

# --- records of processing ---------------------------------------------------------------------


def test_records_table_and_csv(client: Any, sign_in: Any, publish: Any) -> None:
    agent = sign_in("agent")
    empty = client.get("/admin/records?lang=en")
    assert empty.status_code == 200 and "No policy is in effect yet" in empty.text
    assert client.get("/admin/records.csv").status_code == 404

    publish(agent)
    page = client.get("/admin/records?lang=en")
    assert page.status_code == 200
    assert "From policy version 1" in page.text
    assert "Service delivery" in page.text and "Legal basis" in page.text
    # codes become words in the page language; the CSV keeps the codes for machines
    assert "Performance of a contract with you" in page.text
    assert "<td>contract</td>" not in page.text
    rows = len(re.findall(r"<tr>\s*<th scope=\"row\">", page.text))

    download = client.get("/admin/records.csv?version=1&lang=id")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(table) == rows > 5
    assert {"purpose_id", "legal_basis", "recipient", "retention"} <= set(table[0])
    assert any(r["purpose"] == "Penyediaan layanan" for r in table)  # the Indonesian names
    assert {r["legal_basis"] for r in table} >= {"contract", "consent"}
    assert client.get("/admin/records?version=99").status_code == 404


def test_records_need_a_signed_in_staff_member(client: Any) -> None:
    assert client.get("/admin/records.csv", follow_redirects=False).status_code == 303


# --- audit log ---------------------------------------------------------------------------------


def test_audit_filters_pages_and_verifies(
    client: Any, pages: Any, sign_in: Any, publish: Any, db: Database
) -> None:
    dpo = sign_in("dpo")
    publish(dpo)
    page = client.get("/admin/audit?lang=en")
    assert page.status_code == 200
    assert "policy.published" in page.text and "policy.drafted" in page.text
    # what staff do shows under their name, and the actor code filters the log
    source = (Path(__file__).resolve().parents[3] / "examples" / "digimetalab.yaml").read_text()
    source = source.replace("slug: digimetalab", f"slug: {dpo.org_slug}", 1)
    token = pages.csrf(page)
    r = client.post("/admin/policy", data={"csrf_token": token, "source": source})
    assert r.status_code == 200, r.text[-500:]
    page = client.get("/admin/audit?lang=en")
    actor = f"staff:{dpo.user_id}"
    assert f'Sari Wulandari<br><a href="/admin/audit?actor=staff%3A{dpo.user_id}"' in page.text
    mine = client.get("/admin/audit", params={"actor": actor}).text
    assert set(re.findall(r'<th scope="row"><code>([^<]+)</code>', mine)) == {"policy.drafted"}

    only = client.get("/admin/audit?lang=en&action=policy.*").text
    actions = set(re.findall(r'<th scope="row"><code>([^<]+)</code>', only))
    assert actions == {"policy.drafted", "policy.published"}
    assert "staff.logged_in" not in only
    none = client.get("/admin/audit?lang=en&from=2001-01-01&to=2001-01-31").text
    assert 'data-testid="audit-empty"' in none
    bad = client.get("/admin/audit?lang=en&from=31-31-2001").text
    assert "The start date is not valid." in bad

    ok = client.post("/admin/audit/verify?lang=en", data={"csrf_token": token})
    assert ok.status_code == 200
    assert "The audit chain is intact." in ok.text
    assert re.search(r"\d+ events checked", ok.text)

    # someone edits an event in the database: the button finds it
    with db.session(dpo.org_id) as s:
        s.execute(
            update(AuditEvent).where(AuditEvent.action == "policy.drafted").values(actor="evil")
        )
    broken = client.post("/admin/audit/verify?lang=en", data={"csrf_token": token})
    assert "The audit chain is broken." in broken.text
    assert "An event was changed, inserted or moved." in broken.text

    forged = client.post("/admin/audit/verify", data={"csrf_token": "nope"})
    assert forged.status_code == 403


def test_audit_log_pages_through_older_events(
    client: Any, sign_in: Any, consent_events: Any, publish: Any
) -> None:
    auditor = sign_in("auditor")
    publish(auditor)
    consent_events(auditor.org_id, "marketing", grants=30, withdrawals=30)
    first = client.get("/admin/audit?lang=en").text
    seqs = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', first)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/admin/audit\?[^"]*cursor=\d+)"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).text
    more = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', second)]
    assert more and max(more) < min(seqs)


def test_audit_log_is_closed_to_agents_and_owners(client: Any, sign_in: Any) -> None:
    sign_in("agent")
    assert client.get("/admin/audit").status_code == 403


def test_audit_log_shows_only_this_organisation(
    client: Any, sign_in: Any, make_org: Any, publish_example: Any
) -> None:
    other = make_org("toko-lain")
    publish_example(other)
    sign_in("auditor")
    html = client.get("/admin/audit?lang=en").text
    assert "policy.published" not in html


# --- API keys ----------------------------------------------------------------------------------


def test_owner_creates_a_key_sees_it_once_and_revokes_it(
    client: Any, pages: Any, sign_in: Any
) -> None:
    sign_in("owner")
    listing = client.get("/admin/api-keys?lang=en")
    assert listing.status_code == 200 and "No API keys yet." in listing.text
    token = pages.csrf(listing)
    created = client.post(
        "/admin/api-keys?lang=en",
        data={"csrf_token": token, "name": "backend situs", "scope": ["org.read", "consent.read"]},
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'data-testid="new-token"[^>]*>(pvk_[^<]+)<', created.text)
    assert secret
    # the key works against the API with exactly its scopes
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/org", headers=headers).status_code == 200
    assert client.get("/api/v1/staff", headers=headers).status_code == 403
    # shown once: the list never holds it again
    again = client.get("/admin/api-keys?lang=en").text
    assert secret.group(1) not in again and "backend situs" in again
    key_id = secret.group(1).split("_")[1]
    r = client.post(
        f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    after = client.get("/admin/api-keys?lang=en").text
    assert "is revoked. Calls with it are refused from now on." in after
    assert client.get("/api/v1/org", headers=headers).status_code == 401


def test_key_form_problems(client: Any, pages: Any, sign_in: Any) -> None:
    sign_in("owner")
    token = pages.csrf(client.get("/admin/api-keys"))
    no_name = client.post(
        "/admin/api-keys?lang=en", data={"csrf_token": token, "scope": "org.read"}
    )
    assert no_name.status_code == 400 and "Give the key a name." in no_name.text
    no_scope = client.post("/admin/api-keys?lang=en", data={"csrf_token": token, "name": "x"})
    assert no_scope.status_code == 400 and "Choose at least one scope." in no_scope.text
    # owners do not hold audit.read, so they cannot hand it to a key
    beyond = client.post(
        "/admin/api-keys?lang=en", data={"csrf_token": token, "name": "x", "scope": "audit.read"}
    )
    assert beyond.status_code == 403 and "pvk_" not in beyond.text
    forged = client.post(
        "/admin/api-keys", data={"csrf_token": "x", "name": "x", "scope": "org.read"}
    )
    assert forged.status_code == 403
    assert "No API keys yet." in client.get("/admin/api-keys?lang=en").text


def test_dpo_reads_keys_but_cannot_create_or_revoke(
    client: Any, pages: Any, sign_in: Any, make_org: Any, db: Database
) -> None:
    from privasi.orgs import service as orgs

    dpo = sign_in("dpo")
    with db.session(dpo.org_id) as s:
        key, _ = orgs.create_api_key(s, name="crm sync", scopes=["org.read"])
        key_id = key.key_id
    other = make_org("org-lain")
    page = client.get("/admin/api-keys?lang=en")
    assert "crm sync" in page.text and "Create a key" not in page.text
    assert other.token not in page.text and "Revoke" not in page.text
    token = pages.csrf(page)
    assert (
        client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code
        == 403
    )


def test_owner_cannot_revoke_another_organisations_key(
    client: Any, pages: Any, sign_in: Any, make_org: Any, db: Database
) -> None:
    from privasi.orgs import service as orgs

    other = make_org("org-lain")
    with db.session(other.id) as s:
        foreign = orgs.list_api_keys(s)[0].key_id
    sign_in("owner")
    token = pages.csrf(client.get("/admin/api-keys"))
    r = client.post(f"/admin/api-keys/{foreign}/revoke", data={"csrf_token": token})
    assert "Kunci itu tidak ada." in r.text
    with db.session(other.id) as s:
        assert orgs.get_api_key(s, foreign).revoked_at is None
    assert client.get("/api/v1/org", headers=other.headers).status_code == 200
