"""The records-of-processing CSV is opened in spreadsheets: a name in the policy that would start a
formula there is shown as text (a leading ')."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from privasi.orgs.service import system_principal
from privasi.policy import service as policies

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "digimetalab.yaml"
FORMULA = '=HYPERLINK("http://contoh.example/x","Groq")'


def test_a_formula_in_the_policy_is_text_in_the_records_csv(
    client: Any, sign_in: Any, db: Any
) -> None:
    agent = sign_in("agent")
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = agent.org_slug
    doc["effective_date"] = "2026-01-01"
    doc["recipients"][0]["name"] = FORMULA
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    principal = system_principal(agent.org_id)
    policies.load_and_publish(db, agent.org_id, principal, source, "policy.yaml")

    download = client.get("/admin/records.csv?version=1&lang=en")
    assert download.status_code == 200
    table = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    names = {r["recipient"] for r in table if r["recipient_id"] == "groq"}
    assert names == {"'" + FORMULA}
