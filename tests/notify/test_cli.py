"""``privasi outbox``: list, show, retry, preview and send-test."""

from __future__ import annotations

import json
import mailbox

import pytest
from typer.testing import CliRunner

from privasi.notify import delivery
from privasi.notify.cli import app

runner = CliRunner()


@pytest.fixture
def env(settings):
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_list_show_and_retry(env, db, org, queue):
    message_id = queue(channel="whatsapp", to="6281234567890")
    delivery.deliver(db, message_id)  # fails: no WhatsApp credentials

    listed = runner.invoke(app, ["list", "kopi-contoh", "--status", "failed"], env=env)
    assert listed.exit_code == 0, listed.output
    assert message_id[:8] in listed.output and "failed" in listed.output

    shown = runner.invoke(app, ["show", "kopi-contoh", message_id], env=env)
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.output)
    assert row["status"] == "failed" and row["last_error"].startswith("missing secret")

    retried = runner.invoke(app, ["retry", "kopi-contoh", message_id], env=env)
    assert retried.exit_code == 0 and "pending" in retried.output
    again = runner.invoke(app, ["retry", "kopi-contoh", message_id], env=env)
    assert again.exit_code == 1 and "only a failed message" in again.output


def test_preview_renders_with_given_parameters(env):
    result = runner.invoke(
        app,
        ["preview", "consent_withdrawn", "--lang", "en", "-p", "purpose_name=Newsletter"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "Subject: Your consent for Newsletter has been withdrawn" in result.output
    missing = runner.invoke(app, ["preview", "consent_withdrawn"], env=env)
    assert missing.exit_code == 1 and "purpose_name" in missing.output


def test_send_test_delivers_now(env, org, settings):
    result = runner.invoke(
        app, ["send-test", "kopi-contoh", "--to", "ops@kopi.example", "--lang", "en"], env=env
    )
    assert result.exit_code == 0, result.output
    [mail] = list(mailbox.Maildir(settings.data_dir / "mail", create=False))
    assert mail["To"] == "ops@kopi.example" and mail["Subject"] == "Test message from Kopi-Contoh"


def test_send_test_reports_a_failure(env, org):
    result = runner.invoke(
        app,
        ["send-test", "kopi-contoh", "--channel", "webhook", "--to", "http://127.0.0.1:9/x"],
        env=env,
    )
    assert result.exit_code == 1
    assert "missing secret webhook_signing_secret" in result.output
