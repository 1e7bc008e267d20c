"""The sql connector reads, erases and corrects a subject's rows in the business's databases
(a shop database and a chat database), leaves what must be kept, and never touches anyone else."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from sqlalchemy import select

from privasi.connectors import sql, tables
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.rights import execution
from privasi.rights import service as rights
from privasi.rights.export import export_data
from privasi.rights.models import RequestTask
from privasi.vault.service import set_secret

from .conftest import EMAIL, OTHER_EMAIL, OTHER_PHONE, External, verified_request


def _tasks(db: Any, org_id: str, request_id: str) -> dict[str, RequestTask]:
    with db.session(org_id) as s:
        rows = s.scalars(select(RequestTask).where(RequestTask.request_id == request_id))
        return {t.system_id: t for t in rows}


def _budi_untouched(external: External) -> None:
    budi = external.rows("customers", external.table("customers").c.email == OTHER_EMAIL)
    assert budi[0]["name"] == "Budi Santoso" and budi[0]["phone"] == OTHER_PHONE
    orders = external.rows("orders", external.table("orders").c.customer_email == OTHER_EMAIL)
    assert len(orders) == 3 and all(o["items"] == "Teh manis x1" for o in orders)
    chats = external.rows("chats", external.table("chats").c.wa_number == OTHER_PHONE)
    assert len(chats) == 5 and all(c["message"] == "Kak, stok kopi ada?" for c in chats)


def test_access_reads_the_subjects_rows_into_the_export(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    request_id = verified_request(db, toko.id, sari, "access")
    statuses = execution.run_tasks(db, request_id)
    assert statuses["shop"] == "done" and statuses["chat"] == "done"
    with db.session(toko.id) as s:
        data = export_data(s, rights.get_request(s, request_id), "id")
    found = [r for r in data["records"] if r["system"] in ("shop", "chat")]
    values = {r["value"] for r in found}
    assert "Sari Wulandari" in values and "INV-2026-0002" in values
    assert "Halo kak, pesanan saya nomor 4 sudah sampai?" in values
    # Budi's rows are not in Sari's export.
    assert not values & {"Budi Santoso", OTHER_EMAIL, "Kak, stok kopi ada?", "Teh manis x1"}
    n = external.name
    by_field = {(r["field"], r["category"]) for r in found}
    assert (f"{n('orders')}.invoice_no", "invoices") in by_field
    assert (f"{n('chats')}.message", "chats") in by_field
    message = next(r for r in found if r["field"] == f"{n('chats')}.message")
    assert message["source"] == f"chat.{n('chats')}" and message["recorded_at"].startswith(
        "2026-03-01"
    )
    tasks = _tasks(db, toko.id, request_id)
    # Reviews hold no identifier, only the customer's key: found through the customer's row.
    assert tasks["shop"].result["rows"] == {n("customers"): 1, n("orders"): 3, n("reviews"): 2}
    assert "Kemasan rapi." in values and "Mantap, Budi suka." not in values
    assert tasks["chat"].result["rows"] == {n("chats"): 5}
    systems = {s["id"]: s for s in data["systems"]}
    assert systems["chat"]["records"] == 10  # five chats, two columns each


def _expected_hash(db: Any, org_id: str, value: str) -> str:
    with db.session(org_id) as s:
        system = policies.current_policy(s).system("shop")
        key = sql.hash_key(s, system)
    return tables.HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_erasure_applies_each_columns_strategy_and_keeps_invoices(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    request_id = verified_request(db, toko.id, sari, "erasure")
    expected = _expected_hash(db, toko.id, EMAIL)
    statuses = execution.run_tasks(db, request_id)
    assert set(statuses.values()) == {"done"}
    customers = external.table("customers")
    assert external.rows("customers", customers.c.id == 1) == []  # delete_row
    orders = external.rows("orders", external.table("orders").c.id.in_([10, 12, 14]))
    assert len(orders) == 3, "orders hold invoices under a legal obligation: rows stay"
    for order in orders:
        assert order["customer_email"] == expected  # keyed HMAC
        assert order["address"] == "J*. ****** **. ** *******"  # masked
        assert order["items"] is None  # delete_row of a kept row: emptied
        assert order["invoice_no"].startswith("INV-2026-0")  # kept
    assert external.rows("chats", external.table("chats").c.id.in_([100, 102, 104])) == []
    # Found through the customer's row, so erased before it.
    assert [r["id"] for r in external.rows("reviews")] == [3]
    _budi_untouched(external)
    tasks = _tasks(db, toko.id, request_id)
    shop = tasks["shop"].result
    assert shop["tables"][external.name("reviews")]["rows"] == 2
    orders_state = shop["tables"][external.name("orders")]
    assert orders_state["rows"] == 3 and shop["tables"][external.name("customers")]["rows"] == 1
    assert orders_state["kept_columns"] == ["invoice_no"]
    assert [k["rule"] for k in shop["kept"]] == ["invoices"]
    assert tasks["chat"].result["tables"][external.name("chats")]["rows"] == 5


def test_erasure_in_small_batches_counts_each_row_once(
    db: Any, toko: Any, sari: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "BATCH_ROWS", 2)
    request_id = verified_request(db, toko.id, sari, "erasure")
    execution.run_tasks(db, request_id)
    chats = _tasks(db, toko.id, request_id)["chat"].result["tables"][external.name("chats")]
    assert chats["rows"] == 5 and chats["batches"] == 3 and chats["done"]
    assert external.rows("chats", external.table("chats").c.wa_number == "081234567001") == []
    _budi_untouched(external)


def test_rectification_updates_the_columns_holding_the_changed_fields(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    request_id = verified_request(
        db,
        toko.id,
        sari,
        "rectification",
        changes={"email": "Sari.W@Contoh.Example", "address": "Jl. Mawar No. 1, Bogor"},
    )
    execution.run_tasks(db, request_id)
    customer = external.rows("customers", external.table("customers").c.id == 1)[0]
    assert customer["email"] == "sari.w@contoh.example"  # normalised like privasi's own copy
    assert customer["name"] == "Sari Wulandari"
    orders = external.rows("orders", external.table("orders").c.id.in_([10, 12, 14]))
    assert {o["customer_email"] for o in orders} == {"sari.w@contoh.example"}
    assert {o["address"] for o in orders} == {"Jl. Mawar No. 1, Bogor"}
    _budi_untouched(external)
    tasks = _tasks(db, toko.id, request_id)
    assert tasks["shop"].result["applied"] == ["address", "email"]
    assert tasks["chat"].result["elsewhere"] == ["address", "email"]  # chats hold neither


def test_an_unreachable_database_fails_the_task_without_values_and_is_retried(
    db: Any, toko: Any, sari: str, external: External, tmp_path: Any
) -> None:
    secret_url = "sqlite:////nonexistent-dir/rahasia-Sari.sqlite"
    with db.session(toko.id) as s:
        set_secret(s, orgs.system_principal(toko.id, "test"), "chat_db", secret_url)
    request_id = verified_request(db, toko.id, sari, "erasure")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    chat = _tasks(db, toko.id, request_id)["chat"]
    assert chat.status == "failed"
    assert "OperationalError" in chat.result["last_error"]
    assert "rahasia" not in str(chat.result) and EMAIL not in str(chat.result)
    # The shop's part is done and stays done; the retry after the fix finishes the rest.
    assert _tasks(db, toko.id, request_id)["shop"].status == "done"
    with db.session(toko.id) as s:
        set_secret(s, orgs.system_principal(toko.id, "test"), "chat_db", external.chat_url)
    assert set(execution.run_tasks(db, request_id).values()) == {"done"}
    assert _tasks(db, toko.id, request_id)["chat"].result["last_error"] is None


def test_a_missing_column_is_named_in_the_error(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    source = external.policy_source().replace("name: message,", "name: pesan,")
    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
    request_id = verified_request(db, toko.id, sari, "access")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    chat = _tasks(db, toko.id, request_id)["chat"]
    assert (
        chat.status == "failed"
        and f"{external.name('chats')}.pesan' does not exist" in chat.result["last_error"]
    )


def test_each_batchs_keys_are_committed_before_the_batch_is_applied(
    db: Any, toko: Any, sari: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the checkpoint skips locking the task again (no row locks there): the keys
    must still be in the database, as another session sees them, when the batch is applied."""
    monkeypatch.setattr(sql, "BATCH_ROWS", 2)
    request_id = verified_request(db, toko.id, sari, "erasure")
    seen: list[tuple[Any, Any]] = []
    erase = tables.erase

    def spying_erase(conn: Any, mapped: Any, plan: Any, keys: Any, hash_value: Any) -> int:
        if mapped.name == external.name("chats"):
            chat = _tasks(db, toko.id, request_id)["chat"]
            seen.append((chat.result["tables"][mapped.name]["pending"], keys))
        return erase(conn, mapped, plan, keys, hash_value)

    monkeypatch.setattr(tables, "erase", spying_erase)
    execution.run_tasks(db, request_id)
    assert [len(keys) for _, keys in seen] == [2, 2, 1]
    assert all(committed == keys for committed, keys in seen)
    chats = _tasks(db, toko.id, request_id)["chat"].result["tables"][external.name("chats")]
    assert chats["rows"] == 5 and chats["pending"] is None


def test_a_requests_sql_tasks_record_all_their_first_keys_in_one_commit_before_any_change(
    db: Any, toko: Any, sari: str, external: External, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both systems' tasks are prepared together: when the first row is changed anywhere, every
    table's first batch of keys (shop and chat) is already committed, the tasks show as running,
    and each task is counted once."""
    request_id = verified_request(db, toko.id, sari, "erasure")
    seen: list[dict[str, Any]] = []
    erase = tables.erase

    def spying_erase(conn: Any, mapped: Any, plan: Any, keys: Any, hash_value: Any) -> int:
        if not seen:
            seen.append(
                {
                    s: (t.status, t.attempts, t.result)
                    for s, t in _tasks(db, toko.id, request_id).items()
                }
            )
        return erase(conn, mapped, plan, keys, hash_value)

    monkeypatch.setattr(tables, "erase", spying_erase)
    execution.run_tasks(db, request_id)
    first = seen[0]
    assert first["shop"][:2] == ("running", 1) and first["chat"][:2] == ("running", 1)
    n = external.name
    assert first["shop"][2]["tables"][n("orders")]["pending"] == [[10], [12], [14]]
    assert first["shop"][2]["tables"][n("customers")]["pending"] == [[1]]
    assert len(first["chat"][2]["tables"][n("chats")]["pending"]) == 5
    tasks = _tasks(db, toko.id, request_id)
    assert {s: (t.status, t.attempts) for s, t in tasks.items() if s in ("shop", "chat")} == {
        "shop": ("done", 1),
        "chat": ("done", 1),
    }
    assert tasks["shop"].result["tables"][n("orders")]["rows"] == 3
    assert tasks["chat"].result["tables"][n("chats")]["rows"] == 5


def test_a_legal_hold_keeps_the_sql_tasks_waiting_with_no_keys_recorded(
    db: Any, toko: Any, sari: str, external: External
) -> None:
    from privasi.retention import holds

    with db.session(toko.id) as s:
        holds.place(
            s,
            orgs.system_principal(toko.id, "test"),
            scope="subject",
            target=sari,
            reason="Sengketa pesanan no. 7/2026",
            owner="Tim Hukum",
        )
    request_id = verified_request(db, toko.id, sari, "erasure")
    with pytest.raises(RuntimeError):
        execution.run_tasks(db, request_id)
    tasks = _tasks(db, toko.id, request_id)
    for system in ("shop", "chat"):
        assert tasks[system].status == "waiting"
        assert tasks[system].result["held"][0]["reason"] == "Sengketa pesanan no. 7/2026"
        assert "tables" not in tasks[system].result  # nothing prepared while the hold lasts
    assert len(external.rows("chats", external.table("chats").c.wa_number == "081234567001")) == 5
    assert external.rows("customers", external.table("customers").c.email == EMAIL)
