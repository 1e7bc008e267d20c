"""Fixtures for the sql connector: Toko Contoh with a shop database (customers, orders) and a chat
database, as SQLite files, or as two schemas on the suite's PostgreSQL server when
``PRIVASI_TEST_DATABASE_URL`` is set. Sari is the subject of the requests; Budi is another
customer whose rows must never change."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import privasi.connectors.sql  # noqa: F401  (registers the sql executor)
from privasi.connectors import tables
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import service as rights
from privasi.subjects import service as subjects
from privasi.vault.service import set_secret

BACKEND = "postgresql" if os.environ.get("PRIVASI_TEST_DATABASE_URL") else "sqlite"

POLICY = Path(__file__).parent / "data" / "toko.yaml"
EMAIL = "sari.wulandari@contoh.example"
PHONE = "+6281234567001"
OTHER_EMAIL = "budi.santoso@contoh.example"
OTHER_PHONE = "081298765002"
WHEN = datetime(2026, 3, 1, 9, 30)


def _tables(shop: str | None, chat: str | None) -> dict[str, sa.Table]:
    md = sa.MetaData()
    return {
        "customers": sa.Table(
            "customers",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("email", sa.String(200), index=True),
            sa.Column("name", sa.String(200)),
            sa.Column("phone", sa.String(40)),
            sa.Column("created_at", sa.DateTime),
            schema=shop,
        ),
        "orders": sa.Table(
            "orders",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("customer_email", sa.String(200), index=True),
            sa.Column("address", sa.String(300)),
            sa.Column("items", sa.String(300)),
            sa.Column("invoice_no", sa.String(40)),
            sa.Column("created_at", sa.DateTime),
            schema=shop,
        ),
        "reviews": sa.Table(
            "reviews",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("customer_id", sa.Integer, index=True),
            sa.Column("body", sa.Text),
            schema=shop,
        ),
        "chats": sa.Table(
            "chats",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("wa_number", sa.String(40), index=True),
            sa.Column("message", sa.Text),
            sa.Column("sent_at", sa.DateTime),
            schema=chat,
        ),
    }


@dataclass
class External:
    """The business's two databases as the test sees them."""

    shop_url: str
    chat_url: str
    shop_schema: str | None
    chat_schema: str | None

    def __post_init__(self) -> None:
        self._tables = _tables(self.shop_schema, self.chat_schema)

    def table(self, name: str) -> sa.Table:
        return self._tables[name]

    def name(self, table: str) -> str:
        """The table's name as the policy writes it (schema-qualified on PostgreSQL)."""
        schema = self.chat_schema if table == "chats" else self.shop_schema
        return f"{schema}.{table}" if schema else table

    def url(self, name: str) -> str:
        return self.chat_url if name == "chats" else self.shop_url

    def rows(self, name: str, *where: Any) -> list[dict[str, Any]]:
        table = self.table(name)
        engine = sa.create_engine(self.url(name))
        try:
            with engine.connect() as conn:
                query = sa.select(table).where(*where).order_by(table.c.id)
                return [dict(r) for r in conn.execute(query).mappings()]
        finally:
            engine.dispose()

    def policy_source(self) -> str:
        shop = f"{self.shop_schema}." if self.shop_schema else ""
        chat = f"{self.chat_schema}." if self.chat_schema else ""
        source = POLICY.read_text()
        return source.replace("SCHEMA_SHOP.", shop).replace("SCHEMA_CHAT.", chat)


def seed(external: External, *, chats: int = 5, orders: int = 3) -> None:
    shop = _tables(external.shop_schema, external.chat_schema)
    engine = sa.create_engine(external.shop_url)
    with engine.begin() as conn:
        if external.shop_schema:
            conn.execute(sa.text(f'CREATE SCHEMA "{external.shop_schema}"'))
        shop["customers"].metadata.create_all(
            conn, tables=[shop["customers"], shop["orders"], shop["reviews"]]
        )
        conn.execute(
            shop["reviews"].insert(),
            [
                {"id": 1, "customer_id": 1, "body": "Kopinya enak, pengiriman cepat."},
                {"id": 2, "customer_id": 1, "body": "Kemasan rapi."},
                {"id": 3, "customer_id": 2, "body": "Mantap, Budi suka."},
            ],
        )

        conn.execute(
            shop["customers"].insert(),
            [
                {
                    "id": 1,
                    "email": EMAIL,
                    "name": "Sari Wulandari",
                    "phone": "081234567001",
                    "created_at": WHEN,
                },
                {
                    "id": 2,
                    "email": OTHER_EMAIL,
                    "name": "Budi Santoso",
                    "phone": OTHER_PHONE,
                    "created_at": WHEN,
                },
            ],
        )
        rows = []
        for i in range(orders):
            rows.append(
                {
                    "id": 10 + 2 * i,
                    "customer_email": EMAIL,
                    "address": "Jl. Melati No. 7, Bandung",
                    "items": f"Kopi susu x{i + 1}",
                    "invoice_no": f"INV-2026-{i:04d}",
                    "created_at": WHEN,
                }
            )
            rows.append(
                {
                    "id": 11 + 2 * i,
                    "customer_email": OTHER_EMAIL,
                    "address": "Jl. Kenanga No. 3, Medan",
                    "items": "Teh manis x1",
                    "invoice_no": f"INV-2026-9{i:03d}",
                    "created_at": WHEN,
                }
            )
        conn.execute(shop["orders"].insert(), rows)
    engine.dispose()
    engine = sa.create_engine(external.chat_url)
    with engine.begin() as conn:
        if external.chat_schema:
            conn.execute(sa.text(f'CREATE SCHEMA "{external.chat_schema}"'))
        shop["chats"].create(conn)
        rows = []
        for i in range(chats):
            # Stored the way a WhatsApp export writes numbers: local format, no plus.
            rows.append(
                {
                    "id": 100 + 2 * i,
                    "wa_number": "081234567001",
                    "message": f"Halo kak, pesanan saya nomor {i} sudah sampai?",
                    "sent_at": WHEN,
                }
            )
            rows.append(
                {
                    "id": 101 + 2 * i,
                    "wa_number": OTHER_PHONE,
                    "message": "Kak, stok kopi ada?",
                    "sent_at": WHEN,
                }
            )
        conn.execute(shop["chats"].insert(), rows)
    engine.dispose()


@pytest.fixture
def external(tmp_path: Path, database_url: str) -> Iterator[External]:
    if BACKEND == "postgresql":
        suffix = uuid.uuid4().hex[:8]
        # Schemas in the test's own database, dropped with it.
        found = External(database_url, database_url, f"shop_{suffix}", f"chat_{suffix}")
    else:
        found = External(
            f"sqlite:///{tmp_path / 'shop.sqlite'}",
            f"sqlite:///{tmp_path / 'chat.sqlite'}",
            None,
            None,
        )
    seed(found)
    yield found
    tables.dispose_all()


@pytest.fixture
def toko(db: Any, make_org: Any, external: External) -> Any:
    org = make_org("toko-contoh")
    with db.session(org.id) as s:
        principal = orgs.system_principal(org.id, "test")
        version = policies.create_draft(s, principal, external.policy_source())
        policies.publish(s, principal, version)
        set_secret(s, principal, "shop_db", external.shop_url)
        set_secret(s, principal, "chat_db", external.chat_url)
    return org


@pytest.fixture
def sari(db: Any, toko: Any) -> str:
    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        return subjects.find_or_create(s, principal, {"email": EMAIL, "phone": PHONE}).id


def verified_request(db: Any, org_id: str, subject_id: str, type: str, **details: Any) -> str:
    with db.session(org_id) as s:
        principal = orgs.system_principal(org_id, "test")
        request = rights.submit(
            s,
            principal,
            type=type,
            channel="email",
            subject_id=subject_id,
            details=details or None,
        )
        rights.mark_verified(s, principal, request, "staff_review", "dicek oleh staf")
        if type == "rectification":
            rights.approve(s, principal, request)
        return request.id
