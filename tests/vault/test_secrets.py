"""The secrets store: encrypted in the main database, listed by name only, audited by name only."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from privasi.audit.models import AuditEvent
from privasi.db import Database
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs.service import system_principal
from privasi.vault import service as vs
from privasi.vault.service import CiphertextInvalid, Vault

SMTP = "smtp-pass-Rahasia!2026"


def test_set_get_list_delete(vault: Vault, db: Database, org_id: str) -> None:
    who = system_principal(org_id, "tester")
    with db.session(org_id) as s:
        assert vs.set_secret(s, who, "SMTP_PASSWORD", SMTP) is True
        assert vs.set_secret(s, who, "wa.verify_token", "verif-123") is True
    with db.session(org_id) as s:
        assert vs.get_secret(s, "SMTP_PASSWORD") == SMTP
        listed = vs.list_secrets(s)
    assert [i.name for i in listed] == ["SMTP_PASSWORD", "wa.verify_token"]
    assert all(not hasattr(i, "value") for i in listed)
    assert listed[0].updated_by == "system:tester"
    with db.session(org_id) as s:
        assert vs.set_secret(s, who, "SMTP_PASSWORD", "baru-2027") is False
        assert vs.get_secret(s, "SMTP_PASSWORD") == "baru-2027"
        vs.delete_secret(s, who, "SMTP_PASSWORD")
    with db.session(org_id) as s, pytest.raises(NotFound):
        vs.get_secret(s, "SMTP_PASSWORD")
    with db.session(org_id) as s, pytest.raises(NotFound):
        vs.delete_secret(s, who, "SMTP_PASSWORD")


def test_value_is_stored_encrypted(vault: Vault, db: Database, org_id: str) -> None:
    with db.session(org_id) as s:
        vs.set_secret(s, system_principal(org_id), "LLM_API_KEY", SMTP)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT ciphertext FROM org_secrets")).scalar_one()
    assert stored.startswith("pv1.") and SMTP not in stored


def test_writes_are_audited_with_the_name_only(vault: Vault, db: Database, org_id: str) -> None:
    who = system_principal(org_id, "tester")
    with db.session(org_id) as s:
        vs.set_secret(s, who, "SMTP_PASSWORD", SMTP)
        vs.delete_secret(s, who, "SMTP_PASSWORD")
    with db.session(org_id) as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("secret.%")).order_by(AuditEvent.seq)
        ).all()
    assert [(e.action, e.details["name"]) for e in events] == [
        ("secret.set", "SMTP_PASSWORD"),
        ("secret.deleted", "SMTP_PASSWORD"),
    ]
    assert all(SMTP not in str(e.details) for e in events)


def test_organisations_cannot_see_each_others_secrets(
    vault: Vault, db: Database, org_id: str, other_org_id: str
) -> None:
    with db.session(org_id) as s:
        vs.set_secret(s, system_principal(org_id), "DB_URL", "postgresql://toko@db/toko")
    with db.session(other_org_id) as s:
        assert vs.list_secrets(s) == []
        with pytest.raises(NotFound):
            vs.get_secret(s, "DB_URL")


def test_ciphertext_moved_to_another_name_does_not_open(
    vault: Vault, db: Database, org_id: str
) -> None:
    who = system_principal(org_id)
    with db.session(org_id) as s:
        vs.set_secret(s, who, "A", "value-a")
        vs.set_secret(s, who, "B", "value-b")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE org_secrets SET ciphertext = "
                "(SELECT ciphertext FROM org_secrets WHERE name = 'A') WHERE name = 'B'"
            )
        )
    with db.session(org_id) as s, pytest.raises(CiphertextInvalid):
        vs.get_secret(s, "B")


@pytest.mark.parametrize("name", ["", "-lead", "with space", "a/b", "x" * 129])
def test_bad_names_are_refused(vault: Vault, db: Database, org_id: str, name: str) -> None:
    with db.session(org_id) as s, pytest.raises(ValidationFailed):
        vs.set_secret(s, system_principal(org_id), name, "v")


def test_empty_or_huge_values_are_refused(vault: Vault, db: Database, org_id: str) -> None:
    with db.session(org_id) as s:
        with pytest.raises(ValidationFailed):
            vs.set_secret(s, system_principal(org_id), "X", "")
        with pytest.raises(ValidationFailed):
            vs.set_secret(s, system_principal(org_id), "X", "a" * 70000)
