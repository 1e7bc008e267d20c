"""The public notice at /privacy/{org_slug}: the version in effect, both languages, history."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from privasi.orgs import service as orgs
from privasi.policy import service as policies

DEMO = (Path(__file__).resolve().parents[2] / "examples" / "digimetalab.yaml").read_text()


def _publish(db, org_id, source, effective=None):
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id)
        version = policies.create_draft(s, principal, source)
        policies.publish(s, principal, version, effective)
        return version


def test_public_notice_in_both_languages_with_history(client, db, make_org):
    org = make_org("digimetalab")
    _publish(db, org.id, DEMO)
    later = date.today() + timedelta(days=10)
    _publish(db, org.id, DEMO.replace("Digimetalab", "Digimeta Lab", 1), later)

    en = client.get("/privacy/digimetalab?lang=en")
    client.cookies.clear()  # ?lang= is remembered in a cookie; a new reader has none
    idn = client.get("/privacy/digimetalab", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert en.status_code == idn.status_code == 200
    assert '<html lang="en">' in en.text and '<html lang="id">' in idn.text
    assert "Groq" in en.text and "Groq" in idn.text
    assert "Version 1" in en.text and "Version 2" in en.text
    assert "takes effect later" in en.text
    assert 'href="/privacy/digimetalab/consent"' in en.text
    assert 'href="/privacy/digimetalab/request"' in en.text
    assert "Versi 2" in idn.text and "akan berlaku nanti" in idn.text
    assert en.headers["content-security-policy"].startswith("default-src 'self'")

    old = client.get("/privacy/digimetalab/versions/1?lang=en")
    assert old.status_code == 200 and "in effect now" in old.text


def test_unknown_org_or_unpublished_is_a_bilingual_404(client, db, make_org):
    r = client.get("/privacy/nobody-here?lang=en")
    assert r.status_code == 404 and "No privacy notice here" in r.text
    make_org("quiet")
    r = client.get("/privacy/quiet?lang=id")
    assert r.status_code == 404 and "tidak ditemukan" in r.text
    org = make_org("digimetalab")
    with db.session(org.id) as s:
        draft = policies.create_draft(s, orgs.system_principal(org.id), DEMO)
    assert client.get(f"/privacy/digimetalab/versions/{draft.number}").status_code == 404
