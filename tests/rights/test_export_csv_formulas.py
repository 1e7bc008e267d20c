"""A CSV in an export is opened in a spreadsheet: a value that would start a formula (a record from
another system, a browser's user-agent) is shown as text there, while data.json keeps it as it is."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from privasi.rights import export
from privasi.rights import service as rights

from .test_export import PHONE, build, world  # noqa: F401  (world is a fixture)

FORMULAS = [
    '=HYPERLINK("http://contoh.example/x","klik")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def _rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


def test_formula_cells_are_text_in_csv_and_raw_in_data_json(db: Any, world: Any) -> None:  # noqa: F811
    with db.session(world.id) as s:
        request = rights.get_request(s, world.request_id)
        task = next(t for t in rights.tasks_of(s, request) if t.system_id == "crm")
        export.attach_records(
            s,
            request,
            task,
            [
                {"category": "contact", "field": f"f{i}", "value": value}
                for i, value in enumerate(FORMULAS)
            ]
            + [{"category": "contact", "field": "company", "value": "CV Contoh = Jaya"}],
        )
    files = build(db, world, "id")
    values = {r["field"]: r["value"] for r in _rows(files, "categories/contact.csv")}
    for i, value in enumerate(FORMULAS):
        assert values[f"f{i}"] == "'" + value
    assert values["company"] == "CV Contoh = Jaya"  # only a leading sign is a formula
    identifiers = {r["value"] for r in _rows(files, "categories/identifiers.csv")}
    assert "'" + PHONE in identifiers
    raw = {r["value"] for r in json.loads(files["data.json"])["records"]}
    assert set(FORMULAS) | {PHONE} <= raw
