"""Scan tables (CSV, Parquet, SQL) and classify each column by the personal data in it.

The report carries counts, shares and suggestions only: never a value from the table."""

from __future__ import annotations

import csv
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .engine import Detector

# Entity type -> the policy data category it suggests, and whether UU PDP treats it as
# specific (Pasal 4 ayat 2 huruf e: personal financial data), with the policy file's
# `specific_kind` for it.
CATEGORY: dict[str, tuple[str, str]] = {
    "EMAIL_ADDRESS": ("contact", "general"),
    "PHONE_NUMBER": ("contact", "general"),
    "ADDRESS": ("contact", "general"),
    "PERSON": ("contact", "general"),
    "ID_NIK": ("identity", "general"),
    "ID_KK": ("identity", "general"),
    "ID_NPWP": ("identity", "general"),
    "PASSPORT": ("identity", "general"),
    "DATE_OF_BIRTH": ("identity", "general"),
    "CREDIT_CARD": ("payment", "specific"),
    "BANK_ACCOUNT": ("financial", "specific"),
    "IP_ADDRESS": ("technical", "general"),
    "URL": ("usage", "general"),
    "SECRET": ("credentials", "general"),
}
SPECIFIC_KIND = {"CREDIT_CARD": "personal_financial", "BANK_ACCOUNT": "personal_financial"}
# Names people read in the scan report, in Bahasa Indonesia and English.
CATEGORY_LABEL: dict[str, dict[str, str]] = {
    "contact": {"id": "kontak", "en": "contact"},
    "identity": {"id": "identitas", "en": "identity"},
    "payment": {"id": "pembayaran", "en": "payment"},
    "financial": {"id": "keuangan", "en": "financial"},
    "technical": {"id": "teknis", "en": "technical"},
    "usage": {"id": "penggunaan", "en": "usage"},
    "credentials": {"id": "kredensial", "en": "credentials"},
}
SENSITIVITY_LABEL = {
    "general": {"id": "umum", "en": "general"},
    "specific": {"id": "spesifik", "en": "specific"},
}

# Column-name hints: a name token -> entity type. Matched on the name split at _ - . and
# camelCase, so `no_hp`, `noHp` and `customer.email` all hit.
NAME_HINTS: dict[str, str] = {
    "email": "EMAIL_ADDRESS", "surel": "EMAIL_ADDRESS", "mail": "EMAIL_ADDRESS",
    "hp": "PHONE_NUMBER", "phone": "PHONE_NUMBER", "telp": "PHONE_NUMBER",
    "telepon": "PHONE_NUMBER", "wa": "PHONE_NUMBER", "whatsapp": "PHONE_NUMBER",
    "msisdn": "PHONE_NUMBER", "mobile": "PHONE_NUMBER", "handphone": "PHONE_NUMBER",
    "nik": "ID_NIK", "ktp": "ID_NIK", "kk": "ID_KK", "npwp": "ID_NPWP",
    "paspor": "PASSPORT", "passport": "PASSPORT",
    "alamat": "ADDRESS", "address": "ADDRESS", "domisili": "ADDRESS", "street": "ADDRESS",
    "nama": "PERSON", "name": "PERSON", "fullname": "PERSON",
    "lahir": "DATE_OF_BIRTH", "dob": "DATE_OF_BIRTH", "birth": "DATE_OF_BIRTH",
    "birthdate": "DATE_OF_BIRTH", "ttl": "DATE_OF_BIRTH",
    "rekening": "BANK_ACCOUNT", "norek": "BANK_ACCOUNT", "rek": "BANK_ACCOUNT",
    "iban": "BANK_ACCOUNT", "account": "BANK_ACCOUNT",
    "card": "CREDIT_CARD", "kartu": "CREDIT_CARD", "cc": "CREDIT_CARD", "pan": "CREDIT_CARD",
    "ip": "IP_ADDRESS", "ipaddr": "IP_ADDRESS",
    "password": "SECRET", "sandi": "SECRET", "token": "SECRET", "secret": "SECRET",
    "apikey": "SECRET", "pin": "SECRET",
    "url": "URL", "link": "URL",
}  # fmt: skip
_NAME_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])")
# share of sampled non-empty rows above which a detected type counts for the column
MIN_SHARE = 0.2


class ScanError(ValueError):
    """The source cannot be read (unknown format, missing optional library, bad table)."""


@dataclass
class ColumnReport:
    name: str
    rows_sampled: int
    non_empty: int
    entities: dict[str, float] = field(default_factory=dict)
    name_hints: list[str] = field(default_factory=list)
    suggested_category: str | None = None
    sensitivity: str | None = None
    specific_kind: str | None = None

    @property
    def personal(self) -> bool:
        return self.suggested_category is not None


@dataclass
class TableReport:
    source: str
    table: str
    rows_sampled: int
    columns: list[ColumnReport]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def column_hints(name: str) -> list[str]:
    tokens = [t.lower() for t in _NAME_SPLIT.split(name) if t]
    joined = "".join(tokens)
    found = {NAME_HINTS[t] for t in tokens if t in NAME_HINTS}
    if joined in NAME_HINTS:
        found.add(NAME_HINTS[joined])
    return sorted(found)


def classify_column(
    name: str, values: Iterable[Any], detector: Detector, rows_sampled: int
) -> ColumnReport:
    hints = column_hints(name)
    # the column name is the context a single cell lacks ("norek" makes digits an account)
    prefix = f"{' '.join(_NAME_SPLIT.split(name))}: "
    counts: Counter[str] = Counter()
    non_empty = 0
    for raw in values:
        if raw is None:
            continue
        value = raw if isinstance(raw, str) else str(raw)
        if not value.strip():
            continue
        non_empty += 1
        text = prefix + value
        types = {f.entity_type for f in detector.detect(text) if f.end > len(prefix)}
        counts.update(types)
    shares = {t: round(c / non_empty, 3) for t, c in counts.most_common()} if non_empty else {}
    report = ColumnReport(name, rows_sampled, non_empty, shares, hints)
    dominant = [t for t, s in shares.items() if s >= MIN_SHARE]
    basis = dominant[0] if dominant else (hints[0] if hints else None)
    if basis is not None:
        report.suggested_category, report.sensitivity = CATEGORY[basis]
        specific = [t for t in (*dominant, basis) if t in SPECIFIC_KIND]
        if specific:
            report.sensitivity = "specific"
            report.specific_kind = SPECIFIC_KIND[specific[0]]
    return report


def _reservoir(rows: Iterator[dict[str, Any]], k: int, seed: int) -> tuple[list[dict], int]:
    rnd = random.Random(seed)  # noqa: S311 - sampling, not security
    sample: list[dict[str, Any]] = []
    seen = 0
    for row in rows:
        seen += 1
        if len(sample) < k:
            sample.append(row)
        else:
            j = rnd.randrange(seen)
            if j < k:
                sample[j] = row
    return sample, seen


def _read_csv(path: Path, sample: int, seed: int) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows, _ = _reservoir(iter(reader), sample, seed)
            return list(reader.fieldnames or []), rows
    except UnicodeDecodeError as exc:
        raise ScanError(f"{path.name} is not UTF-8 (byte offset {exc.start})") from None


def _read_parquet(path: Path, sample: int, seed: int) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ScanError(
            "reading Parquet needs pyarrow, which is not installed: pip install pyarrow"
        ) from None
    table = pq.read_table(path)
    rows, _ = _reservoir(iter(table.to_pylist()), sample, seed)
    return list(table.column_names), rows


def _sql_tables(url: str, table: str | None, sample: int) -> Iterator[tuple[str, list[str], list]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        names = [table] if table else sa.inspect(engine).get_table_names()
        for name in names:
            try:
                tbl = sa.Table(name, meta, autoload_with=engine)
            except sa.exc.NoSuchTableError:
                raise ScanError(f"no table named {name!r} in the database") from None
            stmt = sa.select(tbl).order_by(sa.func.random()).limit(sample)
            with engine.connect() as conn:
                try:
                    result = conn.execute(stmt)
                except sa.exc.DBAPIError:
                    result = conn.execute(sa.select(tbl).limit(sample))
                rows = [dict(r._mapping) for r in result]
            yield name, [c.name for c in tbl.columns], rows
    finally:
        engine.dispose()


def scan(
    source: str | Path,
    *,
    table: str | None = None,
    sample: int = 1000,
    detector: Detector | None = None,
    progress: bool | None = None,
    seed: int = 0,
) -> list[TableReport]:
    """Scan a CSV or Parquet file, or a SQL database given as a SQLAlchemy URL (one
    table, or every table when `table` is None). At most `sample` rows per table are
    read (a uniform random sample)."""
    detector = detector or Detector()
    src = str(source)
    if "://" in src:
        tables = list(_sql_tables(src, table, sample))
        label = src.split("://", 1)[0] + "://…"  # the URL may hold a password
    else:
        path = Path(src)
        if not path.exists():
            raise ScanError(f"no such file: {path}")
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv", ".txt"):
            columns, rows = _read_csv(path, sample, seed)
        elif suffix in (".parquet", ".pq"):
            columns, rows = _read_parquet(path, sample, seed)
        else:
            raise ScanError(f"unknown table format {suffix!r}: use .csv, .parquet or a SQL URL")
        tables = [(path.stem, columns, rows)]
        label = path.name
    return [_classify_table(label, n, c, r, detector, progress) for n, c, r in tables]


def _classify_table(
    label: str,
    name: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    detector: Detector,
    progress: bool | None,
) -> TableReport:
    cells = len(rows) * len(columns)
    show = progress if progress is not None else (cells > 20_000 and sys.stderr.isatty())
    reports = []
    if show:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"scanning {name}", total=len(columns))
            for col in columns:
                reports.append(
                    classify_column(col, (r.get(col) for r in rows), detector, len(rows))
                )
                bar.advance(task)
    else:
        for col in columns:
            reports.append(classify_column(col, (r.get(col) for r in rows), detector, len(rows)))
    return TableReport(label, name, len(rows), reports)
