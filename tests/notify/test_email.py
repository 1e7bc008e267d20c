"""E-mail delivery: the default maildir, a real SMTP server, retries with backoff, once-only."""

from __future__ import annotations

import mailbox
import threading
from datetime import timedelta

from sqlalchemy import select

from privasi import worker
from privasi.db import utcnow
from privasi.jobs.models import Job
from privasi.notify import delivery
from privasi.notify.models import OutboxMessage

from .conftest import status_of


def test_default_install_delivers_to_a_maildir_through_the_worker(db, org, settings, queue):
    message_id = queue(to="budi@pelanggan.example")
    assert status_of(db, org.id, message_id).status == "pending"

    stats = worker.tick(db)

    assert stats["done"] >= 1
    message = status_of(db, org.id, message_id)
    assert message.status == "sent", message.last_error
    assert message.attempts == 1 and message.sent_at is not None
    box = mailbox.Maildir(settings.data_dir / "mail", create=False)
    mails = list(box)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "budi@pelanggan.example"
    assert mail["Subject"] == "Kode verifikasi Anda untuk Kopi-Contoh"
    assert mail["Reply-To"] == "privasi@kopi.example"  # the policy's privacy contact
    assert mail["Message-ID"] == message.provider_message_id
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "482913" in text and "10 menit" in text
    # The address and the code are gone from the outbox once sent.
    assert message.payload is None
    # A second tick sends nothing again.
    worker.tick(db)
    assert len(list(mailbox.Maildir(settings.data_dir / "mail", create=False))) == 1


def test_smtp_server_receives_text_and_html_in_the_chosen_language(
    db, org, queue, smtp_server, use_settings
):
    use_settings(smtp_url=smtp_server.url, mail_from="noreply@kopi.example")
    message_id = queue(
        to="sari@pelanggan.example",
        template="consent_withdrawn",
        lang="en",
        params={
            "purpose_name": "Newsletter",
            "consequences": "No more newsletters.",
            "center_url": "https://kopi.example/privacy/consent",
        },
    )

    assert delivery.deliver(db, message_id) == "sent"

    assert smtp_server.envelopes == [("noreply@kopi.example", ["sari@pelanggan.example"])]
    mail = smtp_server.messages[0]
    assert mail["Subject"] == "Your consent for Newsletter has been withdrawn"
    assert mail["From"] == "Kopi-Contoh <noreply@kopi.example>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "en"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert "No more newsletters." in parts["text/plain"]
    assert '<a href="https://kopi.example/privacy/consent">' in parts["text/html"]
    assert status_of(db, org.id, message_id).status == "sent"


def test_unsubscribe_url_becomes_one_click_headers(db, org, queue, smtp_server, use_settings):
    use_settings(smtp_url=smtp_server.url)
    url = "https://privasi.example/u/abc.def"
    message_id = queue(
        to="sari@pelanggan.example",
        template="unsubscribed",
        params={"purpose_name": "Buletin", "unsubscribe_url": url},
    )
    assert delivery.deliver(db, message_id) == "sent"
    mail = smtp_server.messages[0]
    assert mail["List-Unsubscribe"] == f"<{url}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_temporary_refusal_is_retried_with_backoff_then_sent(
    db, org, queue, smtp_server, use_settings
):
    use_settings(smtp_url=smtp_server.url)
    smtp_server.refuse["sari@pelanggan.example"] = "451 try again later"
    message_id = queue(to="sari@pelanggan.example")

    before = utcnow()
    assert delivery.deliver(db, message_id) == "retry"
    message = status_of(db, org.id, message_id)
    assert message.status == "pending" and message.attempts == 1
    assert message.last_error == "smtp 451 recipient refused"
    wait = message.next_attempt_at - before
    assert timedelta(seconds=20) < wait < timedelta(seconds=40)
    # Not due yet: a worker leaves it alone.
    assert delivery.deliver(db, message_id) == "skipped"
    # The retry has its own job, due when the message is.
    with db.session(system=True) as s:
        job = s.scalar(select(Job).where(Job.dedupe_key == f"outbox:{message_id}:1"))
        assert job is not None and job.due_at == message.next_attempt_at

    del smtp_server.refuse["sari@pelanggan.example"]
    assert delivery.deliver(db, message_id, now=message.next_attempt_at) == "sent"
    message = status_of(db, org.id, message_id)
    assert message.status == "sent" and message.attempts == 2 and message.last_error is None
    assert len(smtp_server.messages) == 1


def test_backoff_doubles_and_is_capped():
    firsts = [delivery.backoff(n).total_seconds() for n in (1, 2, 3)]
    assert 24 <= firsts[0] <= 36 and 48 <= firsts[1] <= 72 and 96 <= firsts[2] <= 144
    assert delivery.backoff(40).total_seconds() <= 6 * 3600 * 1.2


def test_permanent_refusal_fails_at_once_without_the_address_in_the_error(
    db, org, queue, smtp_server, use_settings
):
    use_settings(smtp_url=smtp_server.url)
    smtp_server.refuse["gone@pelanggan.example"] = "550 5.1.1 <gone@pelanggan.example> unknown"
    message_id = queue(to="gone@pelanggan.example")
    assert delivery.deliver(db, message_id) == "failed"
    message = status_of(db, org.id, message_id)
    assert message.status == "failed" and message.attempts == 1
    assert message.last_error == "smtp 550 recipient refused"


def test_gives_up_after_the_last_attempt(db, org, queue, use_settings):
    # Nothing listens on this port: every attempt is a temporary connection failure.
    from .conftest import free_port

    use_settings(smtp_url=f"smtp://127.0.0.1:{free_port()}", outbox_max_attempts=2)
    message_id = queue(to="sari@pelanggan.example")
    assert delivery.deliver(db, message_id) == "retry"
    later = utcnow() + timedelta(hours=1)
    assert delivery.deliver(db, message_id, now=later) == "failed"
    message = status_of(db, org.id, message_id)
    assert message.status == "failed" and message.attempts == 2
    assert message.last_error.startswith("smtp ")


def test_two_workers_at_once_send_the_message_once(db, org, queue, smtp_server, use_settings):
    use_settings(smtp_url=smtp_server.url)
    message_ids = [queue(to=f"orang{i}@pelanggan.example") for i in range(5)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(name: str) -> None:
        for message_id in message_ids:
            result = delivery.deliver(db, message_id, worker=name)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("sent") == 5
    assert sorted(to for _, (to,) in smtp_server.envelopes) == sorted(
        f"orang{i}@pelanggan.example" for i in range(5)
    )


def test_a_crashed_worker_is_taken_over_when_its_lease_ends(db, org, queue, settings):
    message_id = queue(to="budi@pelanggan.example")
    now = utcnow()
    # A worker claims the message and dies before sending.
    assert delivery.claim(db, message_id, "dead-worker", now) == org.id
    assert delivery.deliver(db, message_id, worker="other") == "skipped"
    after_lease = now + delivery.LEASE + timedelta(seconds=1)
    assert delivery.deliver(db, message_id, worker="other", now=after_lease) == "sent"
    with db.session(system=True) as s:
        row = s.get(OutboxMessage, message_id)
        assert row.status == "sent" and row.attempts == 2


def test_a_message_whose_job_was_lost_is_picked_up_again(db, org, queue, settings):
    from sqlalchemy import delete

    message_id = queue(to="budi@pelanggan.example")
    with db.session(system=True) as s:
        # As if the job had failed under a worker that did not know the outbox.
        s.execute(delete(Job).where(Job.dedupe_key == f"outbox:{message_id}:0"))
        s.get(OutboxMessage, message_id).next_attempt_at = utcnow() - timedelta(minutes=5)
    worker.tick(db)
    assert status_of(db, org.id, message_id).status == "sent"
    assert len(list(mailbox.Maildir(settings.data_dir / "mail", create=False))) == 1


def test_content_of_long_failed_messages_is_dropped(db, org, queue):
    message_id = queue(channel="whatsapp", to="6281234567890")
    assert delivery.deliver(db, message_id) == "failed"
    with db.session(system=True) as s:
        s.get(OutboxMessage, message_id).finished_at = utcnow() - timedelta(days=31)
    with db.session(system=True) as s:
        delivery.rearm(s)
    message = status_of(db, org.id, message_id)
    assert message.status == "failed" and message.payload is None
