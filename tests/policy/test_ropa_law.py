"""Records of processing rows, and the deadline that binds: the stricter of law and promise."""

from __future__ import annotations

import csv
import io

from privasi.policy import Period, effective_deadline, ropa_csv, ropa_markdown, ropa_rows

from .helpers import example


def test_one_row_per_purpose_category_recipient() -> None:
    policy = example("digimetalab")
    rows = ropa_rows(policy)
    keys = {(r.purpose_id, r.category_id, r.recipient_id) for r in rows}
    assert len(keys) == len(rows)
    # The chat widget's conversations reach both AI providers and AWS, abroad, with safeguards.
    chat = {r.recipient_id: r for r in rows if r.purpose_id == "chat_assistant"}
    assert set(chat) == {"groq", "openai", "aws"}
    assert chat["groq"].countries == "US"
    assert chat["groq"].transfer_safeguard == "binding_safeguards"
    assert chat["groq"].legal_basis == "consent"
    assert chat["groq"].retention == "90 days after collection"
    # A purpose and category that nobody receives still has its row.
    security_rows = [r for r in rows if r.purpose_id == "security"]
    assert {r.recipient_id for r in security_rows} == {"netlify", "cloudflare"}
    marketing = [r for r in rows if r.purpose_id == "marketing"]
    assert {r.recipient_id for r in marketing} == {""}


def test_recipient_limited_to_its_categories() -> None:
    rows = ropa_rows(example("digimetalab"))
    netlify = {(r.purpose_id, r.category_id) for r in rows if r.recipient_id == "netlify"}
    assert ("communication", "contact") in netlify
    assert all(cat in {"contact", "communication", "technical"} for _, cat in netlify)


def test_retention_names_the_subject_state() -> None:
    rows = ropa_rows(example("digimetalab"), "id")
    row = next(r for r in rows if r.purpose_id == "communication" and r.category_id == "contact")
    assert "2 tahun setelah interaksi terakhir Anda dengan kami (calon klien)" in row.retention


def test_specific_data_is_marked() -> None:
    rows = ropa_rows(example("aspire"))
    assert {r.sensitivity for r in rows if r.category_id == "financial"} == {"personal_financial"}


def test_csv_and_markdown() -> None:
    policy = example("tekino")
    parsed = list(csv.DictReader(io.StringIO(ropa_csv(policy))))
    assert len(parsed) == len(ropa_rows(policy))
    assert {"purpose", "legal_basis", "recipient", "transfer_safeguard", "retention"} <= set(
        parsed[0]
    )
    processor_rows = [r for r in parsed if r["processing_role"] == "processor"]
    assert {r["purpose_id"] for r in processor_rows} == {"messaging_delivery", "ai_features"}
    md = ropa_markdown(policy, "id")
    assert md.startswith("# Catatan kegiatan pemrosesan data pribadi: PT Teknologi Integrasi")
    assert md.count("\n| ") == len(parsed) + 1


def test_effective_deadline_is_the_stricter() -> None:
    dml = example("digimetalab")  # id-pdp + gdpr, promises 30 days
    assert effective_deadline(dml, "access") == Period(hours=72)
    assert effective_deadline(dml, "erasure") == Period(days=30)  # shorter than a GDPR month
    assert effective_deadline(dml, "withdrawal") == Period()  # GDPR: at once
    tekino = example("tekino")  # id-pdp only, no promise
    assert effective_deadline(tekino, "erasure") == Period(days=30)
    assert effective_deadline(tekino, "rectification") == Period(hours=72)
