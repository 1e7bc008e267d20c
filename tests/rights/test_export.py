"""The access export: data.json in one schema, a CSV per category, a summary in the person's
language with the processing record (who read or changed the data, when, why) and consents.

The organisation runs the digimetalab example policy. People and addresses are fictional.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from privasi.audit import service as audit
from privasi.consent import service as consent
from privasi.errors import ValidationFailed
from privasi.orgs import service as orgs
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.rights import export
from privasi.rights import service as rights
from privasi.subjects import service as subjects

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMAIL = "rina.kusuma@contoh.example"
PHONE = "+6281234500077"


def publish(db: Any, org: Any) -> None:
    doc = yaml.safe_load((EXAMPLES / "digimetalab.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = "2026-01-01"
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")


def proof(text: str) -> consent.Proof:
    return consent.Proof(
        policy_version=None, text=text, language="id", channel="web", method="checkbox"
    )


@pytest.fixture
def world(db: Any, settings: Any, make_org: Any) -> Any:
    """A subject with identifiers, a consent given then withdrawn, a staff member who read the
    person's data for support, and a verified access request."""
    org = make_org("agensi-data")
    publish(db, org)
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        subject = subjects.find_or_create(s, principal, {"email": EMAIL, "phone": PHONE})
        consent.grant(s, principal, subject, "marketing", proof("Kirimi saya kabar terbaru."))
        consent.withdraw(s, principal, subject, "marketing", proof("Berhenti berlangganan."))
        staff, _ = orgs.create_staff(
            s, settings, email="dpo@agensi.example", role="dpo", name="Dewi"
        )
        reader = orgs.staff_principal(staff)
        audit.record(
            s,
            reader,
            "subject.read",
            subject_id=subject.id,
            purpose="service_delivery",
            details={"fields": ["identifiers"]},
        )
        request = rights.submit(
            s, principal, type="access", channel="api", subject_id=subject.id, lang="id"
        )
        rights.mark_verified(s, principal, request, "staff_review", "KTP diperiksa di kantor")
        org.subject_id, org.request_id = subject.id, request.id
    return org


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def build(db: Any, org: Any, lang: str) -> dict[str, bytes]:
    with db.session(org.id) as s:
        request = rights.get_request(s, org.request_id)
        return unzip(export.build_export(s, request, lang))


def test_data_json_holds_every_part_in_one_schema(db: Any, world: Any) -> None:
    files = build(db, world, "id")
    assert {"data.json", "summary.html", "consents.csv", "processing_record.csv"} <= set(files)
    data = json.loads(files["data.json"])
    assert data["format"] == "privasi.subject-export/1"
    assert data["request"]["number"] == "REQ-000001"
    assert data["subject"]["id"] == world.subject_id
    assert data["identifiers"] == {"email": [EMAIL], "phone": [PHONE]}
    for record in data["records"]:
        assert set(record) == set(export.RECORD_FIELDS)
    values = {(r["category"], r["field"], r["value"]) for r in data["records"]}
    assert ("identifiers", "email", EMAIL) in values
    assert ("identifiers", "phone", PHONE) in values
    # Consents with their proof: what the person was shown, how and when.
    events = data["consents"]["events"]
    assert [e["action"] for e in events] == ["granted", "withdrawn"]
    assert events[0]["proof"]["text"] == "Kirimi saya kabar terbaru."
    assert data["consents"]["current"][0]["status"] == "withdrawn"
    assert data["requests"][0]["number"] == "REQ-000001"
    assert data["requests"][0]["type"] == "access"


def test_staff_reads_are_in_the_processing_record(db: Any, world: Any) -> None:
    files = build(db, world, "id")
    trail = json.loads(files["data.json"])["processing_record"]
    reads = [e for e in trail if e["action"] == "subject.read"]
    assert len(reads) == 1
    assert reads[0]["by"] == "staf organisasi"
    assert reads[0]["purpose"] == "service_delivery"
    html = files["summary.html"].decode()
    assert "Rekam jejak pemrosesan" in html
    assert "Data pribadi Anda dibaca" in html
    assert "Penyediaan layanan" in html  # the purpose by its name in the policy
    # The staff member is a kind of actor to the person, never a name or an address.
    assert "Dewi" not in html and "dpo@agensi.example" not in html
    rows = list(csv.DictReader(io.StringIO(files["processing_record.csv"].decode("utf-8-sig"))))
    assert any(r["action"] == "subject.read" and r["by"] == "staf organisasi" for r in rows)


def test_summary_in_english_with_times_in_the_org_zone(db: Any, world: Any) -> None:
    html = build(db, world, "en")["summary.html"].decode()
    assert '<html lang="en">' in html
    assert "Processing record" in html
    assert "Your personal data was read" in html
    assert "a staff member" in html
    assert "Your consents" in html and "Withdrawn" in html
    with db.session(world.id) as s:
        zone = orgs.get_org(s, world.id).time_zone
        request = rights.get_request(s, world.request_id)
    # The digimetalab policy puts the organisation in Makassar time (WITA, UTC+8).
    assert zone == "Asia/Makassar"
    assert f"(times in {zone})" in html
    received = request.received_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    assert received in html
    html_id = build(db, world, "id")["summary.html"].decode()
    assert '<html lang="id">' in html_id
    assert "Persetujuan Anda" in html_id and "Ditarik" in html_id


def test_one_csv_per_category_with_the_same_columns(db: Any, world: Any) -> None:
    files = build(db, world, "id")
    text = files["categories/identifiers.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(export.RECORD_FIELDS)
    # A leading "+" would start a formula in a spreadsheet: the CSV shows the number as text.
    assert {r["value"] for r in rows} == {EMAIL, "'" + PHONE}
    assert "categories/profile.csv" in files
    consents = list(csv.DictReader(io.StringIO(files["consents.csv"].decode("utf-8-sig"))))
    assert [c["action"] for c in consents] == ["granted", "withdrawn"]
    assert consents[0]["proof_text"] == "Kirimi saya kabar terbaru."


def test_records_from_another_system_join_the_same_schema(db: Any, world: Any) -> None:
    with db.session(world.id) as s:
        request = rights.get_request(s, world.request_id)
        task = next(t for t in rights.tasks_of(s, request) if t.system_id == "crm")
        export.attach_records(
            s,
            request,
            task,
            [
                {"category": "contact", "field": "company", "value": "CV Contoh Jaya"},
                {"category": "consultation", "field": "requirements", "value": "Chatbot WA"},
            ],
        )
        # Sealed with the subject's key: the task row itself holds no value in the clear.
        assert "CV Contoh Jaya" not in json.dumps(task.result)
        with pytest.raises(ValidationFailed):
            export.attach_records(s, request, task, [{"value": "no field"}])
    files = build(db, world, "en")
    data = json.loads(files["data.json"])
    crm = [r for r in data["records"] if r["system"] == "crm"]
    assert {(r["category"], r["field"], r["value"]) for r in crm} == {
        ("contact", "company", "CV Contoh Jaya"),
        ("consultation", "requirements", "Chatbot WA"),
    }
    assert data["categories"]["contact"] == "Contact information"
    assert next(s for s in data["systems"] if s["id"] == "crm")["records"] == 2
    rows = list(csv.DictReader(io.StringIO(files["categories/contact.csv"].decode("utf-8-sig"))))
    assert rows == [
        {
            "system": "crm",
            "category": "contact",
            "source": "crm",
            "field": "company",
            "value": "CV Contoh Jaya",
            "recorded_at": "",
        }
    ]
    assert "CV Contoh Jaya" in files["summary.html"].decode()
    assert "Client CRM database" in files["summary.html"].decode()
