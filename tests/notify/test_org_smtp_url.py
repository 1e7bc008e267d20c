"""An organisation's own ``smtp_url`` secret may only name an SMTP server: a ``maildir:`` URL would
let any organisation with ``secrets.manage`` write files anywhere the service can. Writing mail to a
folder stays the operator's choice (PRIVASI_SMTP_URL)."""

from __future__ import annotations

from privasi.notify import delivery
from privasi.orgs import service as orgs
from privasi.vault import service as secrets

from .conftest import status_of


def _org_smtp_url(db, org_id: str, value: str) -> None:
    with db.session(org_id) as s:
        secrets.set_secret(s, orgs.system_principal(org_id), "smtp_url", value)


def test_an_org_maildir_url_is_refused_and_writes_nothing(db, org, queue, tmp_path):
    target = tmp_path / "elsewhere"
    for url in (f"maildir://{target}", f"MAILDIR://{target}", f"file://{target}"):
        _org_smtp_url(db, org.id, url)
        message_id = queue(to="budi@pelanggan.example")
        assert delivery.deliver(db, message_id) == "failed"
        message = status_of(db, org.id, message_id)
        assert message.status == "failed" and message.attempts == 1
        assert "smtp_url" in message.last_error and "smtp://" in message.last_error
        assert str(target) not in message.last_error
    assert not target.exists()


def test_an_org_smtp_url_is_used(db, org, queue, smtp_server):
    _org_smtp_url(db, org.id, smtp_server.url)
    message_id = queue(to="sari@pelanggan.example")
    assert delivery.deliver(db, message_id) == "sent"
    assert [m["To"] for m in smtp_server.messages] == ["sari@pelanggan.example"]


def test_the_operator_may_still_deliver_to_a_maildir(db, org, queue, use_settings, tmp_path):
    use_settings(smtp_url=f"maildir://{tmp_path / 'mail'}")
    assert delivery.deliver(db, queue(to="rina@pelanggan.example")) == "sent"
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 1
