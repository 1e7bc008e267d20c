from __future__ import annotations

import base64
import json
from pathlib import Path

from typer.testing import CliRunner

from privasi.pii import decrypt_token
from privasi.pii.cli import app

runner = CliRunner()


def test_detect_jsonl_stdin() -> None:
    lines = [
        {"id": 1, "text": "saya Budi, WA 0812-3456-7890"},
        {"id": "b", "text": "tidak ada apa-apa"},
    ]
    data = "\n".join(json.dumps(x) for x in lines) + "\n"
    result = runner.invoke(app, ["detect"], input=data)
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert out[0]["id"] == 1
    assert [(e["start"], e["end"], e["type"]) for e in out[0]["entities"]] == [
        (5, 9, "PERSON"),
        (14, 28, "PHONE_NUMBER"),
    ]
    assert set(out[0]["entities"][0]) == {"start", "end", "type", "score"}
    assert out[1] == {"id": "b", "entities": []}


def test_detect_reports_bad_lines_without_values(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "email a@contoh.id"}\nnot json 0812-3456-7890\n\xff\xfe\n')
    result = runner.invoke(app, ["detect", str(path)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "line 2" in result.stderr and "line 3: not valid UTF-8" in result.stderr
    assert "0812" not in result.stderr


def test_redact_text_with_operator_per_type() -> None:
    result = runner.invoke(
        app,
        ["redact", "-f", "text", "-o", "PHONE_NUMBER=mask:4", "--default", "redact:[X]"],
        input="saya Budi, WA 0812-3456-7890",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "saya [X], WA ****-****-7890"


def test_redact_jsonl_keeps_other_fields() -> None:
    line = json.dumps({"id": 7, "text": "email budi@contoh.id", "channel": "wa"})
    result = runner.invoke(app, ["redact", "-f", "jsonl"], input=line + "\n")
    assert json.loads(result.stdout) == {
        "id": 7,
        "text": "email <EMAIL_ADDRESS_1>",
        "channel": "wa",
    }


def test_redact_csv_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("nama,catatan\nBudi Santoso,WA 0812-3456-7890\n", encoding="utf-8")
    result = runner.invoke(app, ["redact", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["nama,catatan", "<PERSON_1>,WA <PHONE_NUMBER_1>"]


def test_redact_encrypt_uses_key_from_environment() -> None:
    key = bytes(range(32))
    result = runner.invoke(
        app,
        ["redact", "-f", "text", "--default", "encrypt"],
        input="NIK 3273014506920002",
        env={"PRIVASI_PII_KEY": base64.b64encode(key).decode()},
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.removeprefix("NIK ")
    assert decrypt_token(token, key, "ID_NIK") == "3273014506920002"


def test_redact_hash_without_key_is_a_clear_error() -> None:
    result = runner.invoke(app, ["redact", "-f", "text", "--default", "hash"], input="x", env={})
    assert result.exit_code == 2
    assert "needs a key" in result.stderr


def test_scan_json(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("email,kota\nbudi@contoh.id,Bandung\nsari@contoh.id,Depok\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    cols = {c["name"]: c for c in report["columns"]}
    assert cols["email"]["suggested_category"] == "contact"
    assert "budi@contoh.id" not in result.stdout


def test_scan_table_output_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("no_hp\n0812-3456-7890\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(path)])
    assert result.exit_code == 0 and "PHONE_NUMBER" in result.stdout
    assert "0812" not in result.stdout
    bad = runner.invoke(app, ["scan", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2 and "no such file" in bad.stderr


def test_scan_table_in_indonesian(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("norek\n1234567890\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(path), "--lang", "id"])
    assert result.exit_code == 0, result.output
    assert "keuangan" in result.stdout and "spesifik" in result.stdout
    assert "1234567890" not in result.stdout
