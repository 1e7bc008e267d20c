"""`privasi connectors test ORG SYSTEM`: the credential, the declared tables and columns, and what
an access request would read for a test identifier, as counts, changing nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from privasi.audit.models import AuditEvent
from privasi.connectors.cli import app
from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.vault.service import set_secret

from .conftest import EMAIL, External


def _env(settings: Any) -> dict[str, str]:
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def _run(settings: Any, *args: str) -> Any:
    return CliRunner().invoke(app, ["test", "toko-contoh", *args], env=_env(settings))


def test_counts_what_an_access_request_would_read_without_values(
    settings: Any, db: Any, toko: Any, external: External
) -> None:
    before = external.rows("orders")
    done = _run(settings, "shop", "--identifier", f"email={EMAIL.upper()}", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["ok"] is True
    assert [c["check"] for c in report["checks"]] == ["connect", "tables"]
    by_table = {t["name"].rsplit(".", 1)[-1]: t for t in report["tables"]}
    assert by_table["customers"]["rows"] == 1 and by_table["customers"]["match"] == "email"
    assert by_table["customers"]["categories"] == {"contact": 3}
    assert by_table["orders"]["rows"] == 3
    assert by_table["orders"]["categories"] == {"contact": 6, "orders": 3, "invoices": 3}
    assert by_table["orders"]["kept_columns"] == ["invoice_no"]
    assert by_table["reviews"]["rows"] == 2
    assert by_table["reviews"]["match"] == f"email via {external.name('customers')}.id"
    assert by_table["customers"]["erasure"] == "delete rows"
    for value in (EMAIL, "Sari", "Melati", "INV-"):
        assert value not in done.output
    assert external.rows("orders") == before  # nothing changed
    with db.session(toko.id) as s:
        tested = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "connector.tested")
        )
        assert tested == 1


def test_phone_in_local_format_is_found_and_tables_print(
    settings: Any, toko: Any, external: External
) -> None:
    done = _run(settings, "chat", "-i", "phone=0812-3456-7001")
    assert done.exit_code == 0, done.output
    assert "ok  connect" in done.output and "chats" in done.output
    assert "contact: 5" in done.output and "chats: 5" in done.output
    assert "Halo" not in done.output


def test_missing_credential_and_columns_fail_with_names_only(
    settings: Any, db: Any, toko: Any, external: External
) -> None:
    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        source = external.policy_source().replace("name: phone,", "name: telepon,")
        source = source.replace("credential: chat_db", "credential: chat_db_baru")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
    shop = _run(settings, "shop")
    assert shop.exit_code == 1
    assert f"{external.name('customers')}.telepon' does not exist" in shop.output
    chat = _run(settings, "chat")
    assert chat.exit_code == 1 and "no secret named 'chat_db_baru'" in chat.output
    with db.session(toko.id) as s:
        set_secret(
            s,
            orgs.system_principal(toko.id, "test"),
            "chat_db_baru",
            "postgresql://x:pw@127.0.0.1:9/n",
        )
    unreachable = _run(settings, "chat")
    assert unreachable.exit_code == 1 and "OperationalError" in unreachable.output
    assert "pw" not in unreachable.output
    unknown = _run(settings, "gudang")
    assert unknown.exit_code == 1 and "no system 'gudang'" in unknown.output


def test_an_erasure_that_cannot_empty_a_not_null_column_is_reported(
    settings: Any, db: Any, toko: Any, external: External
) -> None:
    source = external.policy_source().replace(
        "          - {name: wa_number, category: contact, erasure: hash}",
        "          - {name: wa_number, category: contact, erasure: hash}\n"
        "          - {name: id, category: chats, erasure: null}",
    )
    source = source.replace(
        "{name: message, category: chats, erasure: delete_row}",
        "{name: message, category: chats, erasure: mask}",
    )
    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
    done = _run(settings, "chat", "--json")
    assert done.exit_code == 1
    report = json.loads(done.output)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["erasure"]
    assert f"'{external.name('chats')}.id' is NOT NULL" in failed[0]["detail"]


HELPDESK = """  - id: helpdesk
    name: Helpdesk
    kind: http
    credential: helpdesk_key
    base_url: http://127.0.0.1:9/privasi
    categories: [chats]
  - id: arsip
    name: Arsip kertas
    kind: manual
    categories: [invoices]
    instructions: {id: Cari map pelanggan di lemari arsip., en: Find the customer's folder.}
retention:"""


def test_other_kinds_of_system_are_checked_their_own_way(
    settings: Any, db: Any, toko: Any, external: External
) -> None:
    source = external.policy_source().replace("retention:", HELPDESK, 1)
    with db.session(toko.id) as s:
        principal = orgs.system_principal(toko.id, "test")
        policies.publish(s, principal, policies.create_draft(s, principal, source))
    missing = _run(settings, "helpdesk")
    assert missing.exit_code == 1 and "no secret named 'helpdesk_key'" in missing.output
    with db.session(toko.id) as s:
        set_secret(s, orgs.system_principal(toko.id, "test"), "helpdesk_key", "k" * 32)
    unreachable = _run(settings, "helpdesk", "--json")
    assert unreachable.exit_code == 1
    failed = [c["check"] for c in json.loads(unreachable.output)["checks"] if not c["ok"]]
    assert failed == ["endpoint"]
    manual = _run(settings, "arsip")
    assert manual.exit_code == 1 and "manual system: nothing to connect to" in manual.output
