from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from privasi.pii.tables import ScanError, column_hints, scan

ROWS = [
    ("Budi Santoso", "0812-3456-7890", "budi@contoh.id", "3273014506920002", "1234567890", "Rp 150.000", "merah"),
    ("Sari Wulandari", "+62 857 1122 3344", "sari.w@contoh.id", "3174052811850004", "0987654321", "Rp 75.000", "biru"),
    ("Andi Pratama", "081398765432", "andi.p@contoh.id", "3578106203990001", "5271009934", "Rp 20.000", "hijau"),
]  # fmt: skip
HEADER = ["nama", "no_hp", "email", "nik", "norek", "harga", "warna"]


@pytest.fixture()
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "pelanggan.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(ROWS * 5)
    return path


def _by_name(report) -> dict:
    return {c.name: c for c in report.columns}


def test_csv_columns_classified(csv_file: Path) -> None:
    (report,) = scan(csv_file, progress=False)
    cols = _by_name(report)
    assert report.rows_sampled == 15
    assert cols["no_hp"].entities == {"PHONE_NUMBER": 1.0}
    assert cols["no_hp"].suggested_category == "contact"
    assert cols["email"].suggested_category == "contact"
    assert cols["nik"].entities == {"ID_NIK": 1.0} and cols["nik"].suggested_category == "identity"
    # digits alone are an account only because the column name says so
    assert cols["norek"].entities == {"BANK_ACCOUNT": 1.0}
    assert cols["norek"].sensitivity == "specific"
    assert cols["norek"].specific_kind == "personal_financial"
    assert cols["email"].specific_kind is None
    assert cols["nama"].suggested_category == "contact"
    assert cols["harga"].entities == {} and cols["harga"].suggested_category is None
    assert cols["warna"].suggested_category is None


def test_report_never_contains_values(csv_file: Path) -> None:
    (report,) = scan(csv_file, progress=False)
    dumped = json.dumps(report.to_dict())
    for row in ROWS:
        for value in row:
            assert value not in dumped


def test_sampling_limits_rows(csv_file: Path) -> None:
    (report,) = scan(csv_file, sample=4, progress=False)
    assert report.rows_sampled == 4


def test_sql_table_scan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    customers = sa.Table(
        "customers", meta, sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alamat", sa.String), sa.Column("ip_login", sa.String),
    )  # fmt: skip
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            customers.insert(),
            [
                {"alamat": "Jl. Melati No. 5, Bandung 40162", "ip_login": "203.0.113.7"},
                {"alamat": "Jl. Kenanga No. 12, Depok 16424", "ip_login": "198.51.100.9"},
            ],
        )
    engine.dispose()
    (report,) = scan(url, table="customers", progress=False)
    cols = _by_name(report)
    assert report.source == "sqlite://…"
    assert cols["alamat"].entities == {"ADDRESS": 1.0}
    assert cols["ip_login"].suggested_category == "technical"
    assert cols["id"].suggested_category is None
    assert [r.table for r in scan(url, progress=False)] == ["customers"]
    with pytest.raises(ScanError, match="no table named"):
        scan(url, table="nope", progress=False)


def test_progress_bar_runs(csv_file: Path) -> None:
    (report,) = scan(csv_file, progress=True)
    assert len(report.columns) == len(HEADER)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow installed")
def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ScanError, match="needs pyarrow"):
        scan(path)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(ScanError, match="unknown table format"):
        scan(tmp_path / "x.xlsx")
    with pytest.raises(ScanError, match="no such file"):
        scan(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("name", "hint"),
    [("no_hp", ["PHONE_NUMBER"]), ("noHp", ["PHONE_NUMBER"]), ("customer.email", ["EMAIL_ADDRESS"]),
     ("alamat_kirim", ["ADDRESS"]), ("tgl_lahir", ["DATE_OF_BIRTH"]), ("harga", [])],
)  # fmt: skip
def test_column_hints(name: str, hint: list[str]) -> None:
    assert column_hints(name) == hint
