"""`privasi pii ...`: detect, redact and scan from the command line."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from .engine import Detector
from .operators import Operator, anonymize, operator_from_name
from .tables import ScanError, scan
from .types import ALL_ENTITIES, Language, PiiInputError

app = typer.Typer(
    name="pii",
    help="Detect and redact personal data (Indonesian and English). / Deteksi dan samarkan data pribadi.",
    no_args_is_help=True,
)

FileArg = Annotated[str, typer.Argument(help="Input file; '-' or omitted reads standard input.")]


def _err(message: str) -> None:
    typer.echo(f"privasi pii: {message}", err=True)


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.exists():
        _err(f"no such file: {path}")
        raise typer.Exit(2)
    return p.open("rb")


def _lines(stream: BinaryIO) -> Iterator[tuple[int, str | None]]:
    for n, raw in enumerate(stream, 1):
        try:
            yield n, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _err(f"line {n}: not valid UTF-8 (byte {exc.start}); line skipped")
            yield n, None


def _detector(entities: list[str] | None, threshold: float) -> Detector:
    try:
        return Detector(entities=entities or None, threshold=threshold)
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None


@app.command()
def detect(
    file: FileArg = "-",
    language: Annotated[
        str | None, typer.Option(help="id, en or mixed; detected per line when omitted.")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Minimum score, 0-1.")] = 0.5,
    entity: Annotated[
        list[str] | None, typer.Option("--entity", "-e", help="Only these types (repeatable).")
    ] = None,
) -> None:
    """Read JSONL lines {"id", "text"}; write JSONL lines {"id", "entities": [...]}."""
    if language not in (None, "id", "en", "mixed"):
        _err("language must be id, en or mixed")
        raise typer.Exit(2)
    lang: Language | None = language  # type: ignore[assignment]
    detector = _detector(entity, threshold)
    failed = 0
    out = sys.stdout
    for n, line in _lines(_open_binary(file)):
        if line is None:
            failed += 1
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"]
            if not isinstance(text, str):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            _err(f'line {n}: expected a JSON object with a string "text"; line skipped')
            failed += 1
            continue
        found = detector.detect(text, language=lang)
        out.write(
            json.dumps(
                {"id": record.get("id"), "entities": [f.to_dict() for f in found]},
                ensure_ascii=False,
            )
            + "\n"
        )
    if failed:
        raise typer.Exit(1)


def _key_from_env(name: str) -> bytes | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return bytes.fromhex(raw)
    except ValueError:
        pass
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        _err(f"{name} must hold the key as hex or base64")
        raise typer.Exit(2) from None


def _operators(specs: list[str], default: str, key: bytes | None) -> tuple[dict, Operator]:
    ops: dict[str, Operator] = {}
    try:
        for spec in specs:
            etype, sep, op = spec.partition("=")
            if not sep or etype not in ALL_ENTITIES:
                raise ValueError(f"--operator takes TYPE=OPERATOR with a known type, got {spec!r}")
            ops[etype] = operator_from_name(op, key)
        return ops, operator_from_name(default, key)
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None


@app.command()
def redact(
    file: FileArg = "-",
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="text, jsonl or csv; from the file name if omitted."),
    ] = None,
    operator: Annotated[
        list[str] | None,
        typer.Option(
            "--operator", "-o", help="TYPE=OPERATOR, e.g. PHONE_NUMBER=mask:4 (repeatable)."
        ),
    ] = None,
    default: Annotated[
        str, typer.Option(help="Operator for other types: replace, redact, mask, hash, ...")
    ] = "replace",
    key_env: Annotated[
        str, typer.Option(help="Environment variable holding the key for hash/encrypt.")
    ] = "PRIVASI_PII_KEY",
    threshold: Annotated[float, typer.Option(help="Minimum score, 0-1.")] = 0.5,
) -> None:
    """Write the input back in the same shape with personal data replaced."""
    kind = fmt or (
        "jsonl" if file.endswith(".jsonl") else "csv" if file.endswith(".csv") else "text"
    )
    if kind not in ("text", "jsonl", "csv"):
        _err("format must be text, jsonl or csv")
        raise typer.Exit(2)
    ops, fallback = _operators(operator or [], default, _key_from_env(key_env))
    detector = _detector(None, threshold)

    def clean(text: str) -> str:
        return anonymize(text, detector.detect(text), ops, fallback).text

    stream = _open_binary(file)
    out = sys.stdout
    if kind == "jsonl":
        failed = 0
        for n, line in _lines(stream):
            if line is None or not line.strip():
                failed += line is None
                continue
            try:
                record: dict[str, Any] = json.loads(line)
                record["text"] = clean(record["text"])
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                _err(f'line {n}: expected a JSON object with a string "text"; line skipped')
                failed += 1
                continue
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if failed:
            raise typer.Exit(1)
        return
    try:
        data = stream.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        _err(str(PiiInputError(f"input is not valid UTF-8 (invalid byte at offset {exc.start})")))
        raise typer.Exit(2) from None
    if kind == "text":
        out.write(clean(data))
        return
    reader = csv.reader(io.StringIO(data, newline=""))
    writer = csv.writer(out, lineterminator="\n")
    header = next(reader, None)
    if header is None:
        return
    writer.writerow(header)
    for row in reader:
        writer.writerow([clean(cell) for cell in row])


_SCAN_HEAD = {
    "en": ("column", "entities (share of rows)", "name hint", "category", "sensitivity",
           "rows sampled"),
    "id": ("kolom", "entitas (porsi baris)", "petunjuk nama", "kategori", "sensitivitas",
           "baris sampel"),
}  # fmt: skip


@app.command("scan")
def scan_command(
    source: Annotated[str, typer.Argument(help="A .csv or .parquet file, or a SQLAlchemy URL.")],
    table: Annotated[str | None, typer.Option(help="SQL table; all tables when omitted.")] = None,
    sample: Annotated[int, typer.Option(min=1, help="Rows sampled per table.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the table: id or en.")] = "en",
) -> None:
    """Classify each column by the personal data found in a sample of its rows.
    The report never shows values from the table."""
    if lang not in _SCAN_HEAD:
        _err("lang must be id or en")
        raise typer.Exit(2)
    try:
        reports = scan(source, table=table, sample=sample, progress=None)
    except ScanError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from .tables import CATEGORY_LABEL, SENSITIVITY_LABEL

    head = _SCAN_HEAD[lang]
    console = Console()
    for rep in reports:
        t = Table(title=f"{rep.source} · {rep.table} ({head[5]}: {rep.rows_sampled})")
        for h in head[:5]:
            t.add_column(h)
        for col in rep.columns:
            ents = ", ".join(f"{k} {v:.0%}" for k, v in col.entities.items()) or "-"
            category = col.suggested_category
            sensitivity = col.sensitivity
            t.add_row(
                col.name,
                ents,
                ", ".join(col.name_hints) or "-",
                CATEGORY_LABEL[category][lang] if category else "-",
                SENSITIVITY_LABEL[sensitivity][lang] if sensitivity else "-",
            )
        console.print(t)
