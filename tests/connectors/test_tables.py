"""The building blocks the sql connector (and retention) share: how a table's identity column is
matched, which erasure applies to which column, and that every change can be replayed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privasi.connectors import tables
from privasi.policy.systems import System, Table
from privasi.policy.vocab import Erasure


def _table(identity: str, **extra: object) -> Table:
    return Table.model_validate(
        {
            "name": "t",
            "identity_column": identity,
            "columns": [
                {"name": "nama", "category": "contact", "erasure": "mask"},
                {"name": "faktur", "category": "invoices", "erasure": "delete_row"},
                {"name": "catatan", "category": "notes", "erasure": None},
            ],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("customer_email", "email"),
        ("e_mail", "email"),
        ("phone_number", "phone"),
        ("no_hp", "phone"),
        ("wa_number", "phone"),
        ("msisdn", "phone"),
        ("customer_id", "external"),
        ("shipping_ref", "external"),  # 'hp' inside a word is not a phone
    ],
)
def test_the_identity_column_kind_follows_its_name(column: str, kind: str) -> None:
    assert _table(column).match_kind() == kind


def test_an_explicit_match_wins_and_is_checked() -> None:
    assert _table("kontak", match="phone").match_kind() == "phone"
    with pytest.raises(ValueError, match="match is one of"):
        _table("kontak", match="ktp")


def test_phone_numbers_are_looked_for_in_local_formats_too() -> None:
    held = {"phone": ["+6281234567001"], "whatsapp": ["+6281234567001"], "email": ["a@b.example"]}
    assert tables.match_values("phone", held) == ["+6281234567001", "6281234567001", "081234567001"]
    assert tables.match_values("email", held) == ["a@b.example"]
    assert tables.match_values("external", held) == []


def test_kept_data_keeps_its_row_and_empties_the_rest() -> None:
    table = _table("email")
    assert tables.erasure_plan(table, set()) == tables.ErasurePlan(True, {}, [])
    kept = tables.erasure_plan(table, {"invoices"})
    assert not kept.delete and kept.kept_columns == ["faktur"]
    assert kept.strategies == {"nama": Erasure.mask, "catatan": Erasure.null}
    assert tables.erasure_plan(table, {"invoices", "contact", "notes"}).empty


@given(st.one_of(st.none(), st.integers(), st.text(max_size=60)))
def test_mask_and_hash_can_be_replayed(value: object) -> None:
    masked = tables.mask(value)
    assert tables.mask(masked) == masked
    digest = tables.hasher(b"k" * 32)
    hashed = digest(value)
    assert digest(hashed) == hashed
    if isinstance(value, str) and value:
        assert masked[0] == value[0] and len(masked) == len(value)
        assert (hashed.startswith(tables.HASH_PREFIX) and value not in hashed[3:]) or len(value) < 3
    else:
        assert hashed is None or value == ""


def test_hashes_are_keyed() -> None:
    assert tables.hasher(b"a" * 32)("sari@contoh.example") != tables.hasher(b"b" * 32)(
        "sari@contoh.example"
    )


def test_errors_name_the_class_not_the_message() -> None:
    assert tables.describe(ValueError("postgresql://u:rahasia@host/db")) == "ValueError"


def _system(*tables: dict[str, object]) -> System:
    return System.model_validate(
        {"id": "toko", "name": "Toko", "kind": "sql", "credential": "db", "tables": list(tables)}
    )


def test_a_table_found_through_another_must_name_a_declared_table() -> None:
    customers: dict[str, object] = {
        "name": "customers",
        "identity_column": "email",
        "columns": [{"name": "email", "category": "contact", "erasure": "delete_row"}],
    }
    reviews: dict[str, object] = {
        "name": "reviews",
        "identity_column": "customer_id",
        "via": "customers.id",
        "columns": [{"name": "body", "category": "orders", "erasure": "delete_row"}],
    }
    assert _system(customers, reviews).tables[1].via == "customers.id"
    for wrong in ("pelanggan.id", "customers", "reviews.id"):
        with pytest.raises(ValueError, match="via is"):
            _system(customers, {**reviews, "via": wrong})
    chained: dict[str, object] = {**reviews, "name": "replies", "via": "reviews.id"}
    with pytest.raises(ValueError, match="found directly"):
        _system(customers, reviews, chained)


def _column(name: str) -> dict[str, str]:
    return {"name": name, "category": "contact", "erasure": "delete_row"}


def test_paging_and_deleting_with_statements_built_once(tmp_path: object) -> None:
    """The look-up and delete statements are kept per reflected table with their values as
    parameters: the same statement must serve any number of identifiers, each page after the
    last key seen, composite keys, and tables found through another table."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path}/toko.sqlite")
    md = sa.MetaData()
    sa.Table(
        "pelanggan",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String),
    )
    sa.Table(
        "pesan",
        md,
        sa.Column("toko", sa.Integer, primary_key=True),
        sa.Column("nomor", sa.Integer, primary_key=True),
        sa.Column("no_hp", sa.String),
    )
    sa.Table(
        "ulasan",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pelanggan_id", sa.Integer),
    )
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            md.tables["pelanggan"].insert(),
            [{"id": i, "email": f"p{i % 3}@contoh.example"} for i in range(1, 10)],
        )
        conn.execute(
            md.tables["pesan"].insert(),
            [
                {"toko": t, "nomor": n, "no_hp": "081200000001" if n % 2 else "081299999999"}
                for t in (1, 2)
                for n in range(1, 6)
            ],
        )
        conn.execute(
            md.tables["ulasan"].insert(), [{"id": i, "pelanggan_id": i} for i in range(1, 10)]
        )
    specs = [
        Table.model_validate(
            {"name": "pelanggan", "identity_column": "email", "columns": [_column("email")]}
        ),
        Table.model_validate(
            {"name": "pesan", "identity_column": "no_hp", "columns": [_column("no_hp")]}
        ),
        Table.model_validate(
            {
                "name": "ulasan",
                "identity_column": "pelanggan_id",
                "via": "pelanggan.id",
                "columns": [_column("pelanggan_id")],
            }
        ),
    ]
    found = {m.name: m for m in tables.reflect(engine, specs)}
    customers, chats, reviews = found["pelanggan"], found["pesan"], found["ulasan"]

    def pages(mapped: tables.Mapped, values: list[str], size: int) -> list[list[list[object]]]:
        out: list[list[list[object]]] = []
        after = None
        with engine.connect() as conn:
            while keys := tables.next_keys(conn, mapped, values, after, size):
                out.append(keys)
                after = keys[-1]
        return out

    assert pages(customers, ["p1@contoh.example"], 2) == [[[1], [4]], [[7]]]
    assert pages(customers, ["p1@contoh.example", "p2@contoh.example"], 4) == [
        [[1], [2], [4], [5]],
        [[7], [8]],
    ]
    assert pages(chats, ["081200000001"], 2) == [
        [[1, 1], [1, 3]],
        [[1, 5], [2, 1]],
        [[2, 3], [2, 5]],
    ]
    assert pages(reviews, ["p0@contoh.example"], 10) == [[[3], [6], [9]]]
    assert set(customers.statements) == {"keys_first", "keys_after"}

    plan = tables.ErasurePlan(delete=True, strategies={}, kept_columns=[])
    with engine.begin() as conn:
        assert tables.erase(conn, customers, plan, [[1], [4]], str) == 2
        assert tables.erase(conn, customers, plan, [[1], [7]], str) == 1  # replayed: once
        assert tables.erase(conn, chats, plan, [[1, 1], [2, 5]], str) == 2
    assert pages(customers, ["p1@contoh.example"], 5) == []
    assert pages(chats, ["081200000001"], 5) == [[[1, 3], [1, 5], [2, 1], [2, 3]]]
    engine.dispose()
