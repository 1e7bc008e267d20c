"""Delivery by the worker: claim a message, send it, record the outcome, schedule a retry.

A message is claimed with one conditional UPDATE (pending, or sending with an expired lease), so
when two workers hold jobs for the same message only one sends it. Network calls run outside any
database transaction. A worker that dies mid-send leaves a lease that expires; the message is then
sent again (at least once: e-mail keeps its Message-ID and webhooks their Privasi-Message-Id, so
receivers can drop the copy).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from privasi.db import Database, PrivasiSession, utcnow
from privasi.errors import NotFound, PrivasiError
from privasi.jobs import service as jobs
from privasi.jobs.models import Job
from privasi.notify import service as notify
from privasi.notify import templates, transports
from privasi.notify.models import OutboxMessage
from privasi.notify.transports import DeliveryError, Outgoing
from privasi.orgs import service as orgs
from privasi.vault.service import SubjectShredded, VaultError, get_secret, vault_for
from privasi.worker import reconciler, worker_id

log = logging.getLogger("privasi.notify")

LEASE = timedelta(minutes=5)  # as long as a job's lease: a stuck send is retried once both end
FIRST_RETRY = 30.0  # seconds
MAX_RETRY = 6 * 3600.0
REARM_GRACE = timedelta(minutes=1)
FAILED_CONTENT_KEPT = timedelta(days=30)
CREDENTIALS = {
    "email": ("smtp_url",),
    "whatsapp": ("whatsapp_access_token", "whatsapp_phone_number_id"),
    "webhook": ("webhook_signing_secret",),
}


def backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most 6 h, with jitter so retries spread out."""
    base = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 (jitter only)


def claim(db: Database, message_id: str, worker: str, now: datetime) -> str | None:
    """Take the message for one attempt; its organisation's id, or None if it is not ours."""
    with db.session(system=True) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                or_(
                    and_(
                        OutboxMessage.status == "pending",
                        OutboxMessage.next_attempt_at <= now,
                    ),
                    and_(OutboxMessage.status == "sending", OutboxMessage.locked_until < now),
                ),
            )
            .values(
                status="sending",
                locked_by=worker,
                locked_until=now + LEASE,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
            return None
        return session.scalar(select(OutboxMessage.org_id).where(OutboxMessage.id == message_id))


def _resolve_to(session: PrivasiSession, message: OutboxMessage, stored: str | None) -> str:
    if stored:
        return stored
    if message.subject_id is None:
        raise DeliveryError("no recipient", permanent=True)
    from privasi.subjects import service as subjects

    try:
        subject = subjects.get_subject(session, message.subject_id)
    except NotFound:
        raise DeliveryError("subject not found", permanent=True) from None
    found = subjects.contact_for(session, subject, message.channel)
    if not found:
        raise DeliveryError(f"no {message.channel} address on record", permanent=True)
    return found


def _reply_to(session: PrivasiSession) -> str | None:
    from privasi.policy import service as policies

    try:
        contacts = policies.current_policy(session).organisation.contacts
    except PrivasiError:  # no version in effect yet: no Reply-To
        return None
    return contacts.privacy_email or contacts.support_email


def _credentials(session: PrivasiSession, channel: str) -> dict[str, str]:
    found = {}
    for name in CREDENTIALS[channel]:
        try:
            found[name] = get_secret(session, name)
        except NotFound:
            continue
    return found


def prepare(db: Database, org_id: str, message_id: str) -> Outgoing:
    """Everything a transport needs, read in one short organisation-scoped transaction."""
    with db.session(org_id) as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.payload is None:
            raise DeliveryError("message content gone", permanent=True)
        try:
            payload = notify.open_payload(vault_for(session), message)
        except SubjectShredded:
            # The subject was erased (their key destroyed): this message must never go out.
            raise DeliveryError("subject erased", permanent=True) from None
        except VaultError as exc:
            raise DeliveryError(f"content unreadable ({exc.type})", permanent=True) from None
        params = dict(payload.get("params") or {})
        try:
            rendered = templates.render(message.template, message.lang, params)
        except PrivasiError:
            raise DeliveryError("template no longer renders", permanent=True) from None
        org = orgs.get_org(session, org_id)
        return Outgoing(
            message_id=message.id,
            org_id=org_id,
            org_name=str(params.get("org_name") or org.name),
            channel=message.channel,
            template=message.template,
            lang=message.lang,
            to=_resolve_to(session, message, payload.get("to")),
            params=params,
            rendered=rendered,
            created_at=message.created_at,
            subject_id=message.subject_id,
            reply_to=_reply_to(session) if message.channel == "email" else None,
            credentials=_credentials(session, message.channel),
        )


def send(db: Database, out: Outgoing) -> str:
    settings = notify.settings_for(db)
    if out.channel == "email":
        org_url = out.credentials.get("smtp_url")
        if org_url:
            transports.check_org_smtp_url(org_url)
        smtp_url = org_url or settings.smtp_url
        if not smtp_url:
            smtp_url = f"maildir://{(settings.data_dir / 'mail').resolve()}"
        return transports.send_email(out, smtp_url=smtp_url, mail_from=settings.mail_from)
    if out.channel == "whatsapp":
        spec = templates.get_template(out.template)
        wa = spec.whatsapp_template
        parameters = templates.whatsapp_parameters(out.template, out.lang, out.params) if wa else []
        return transports.send_whatsapp(
            out,
            api_base=settings.whatsapp_api_base,
            template_name=wa.name if wa else None,
            parameters=parameters,
            copy_code_button=bool(wa and wa.copy_code_button),
        )
    return transports.send_webhook(out)


def deliver(
    db: Database, message_id: str, *, worker: str | None = None, now: datetime | None = None
) -> str:
    """One delivery attempt. Returns sent, retry, failed or skipped (not due, or taken)."""
    worker = worker or worker_id()
    org_id = claim(db, message_id, worker, now or utcnow())
    if org_id is None:
        return "skipped"
    provider_id: str | None = None
    error: DeliveryError | None = None
    try:
        provider_id = send(db, prepare(db, org_id, message_id))
    except DeliveryError as exc:
        error = exc
    except Exception as exc:
        # Unexpected: keep the type only (its text may quote the recipient) and try again later.
        log.exception("outbox delivery crashed", extra={"message_id": message_id})
        error = DeliveryError(f"internal {type(exc).__name__}")
    return _finish(db, message_id, worker, provider_id, error)


def _finish(
    db: Database,
    message_id: str,
    worker: str,
    provider_id: str | None,
    error: DeliveryError | None,
) -> str:
    now = utcnow()
    with db.session(system=True) as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.locked_by != worker:
            return "skipped"  # the lease ran out and another worker owns the message now
        message.locked_by = None
        message.locked_until = None
        if error is None:
            message.status = "sent"
            message.sent_at = now
            message.finished_at = now
            message.provider_message_id = (provider_id or "")[:200] or None
            message.last_error = None
            message.payload = None  # the address and parameters are not needed any more
            return "sent"
        message.last_error = error.code
        log.warning(
            "outbox delivery attempt failed",
            extra={"message_id": message.id, "code": error.code, "attempt": message.attempts},
        )
        if error.permanent or message.attempts >= message.max_attempts:
            message.status = "failed"
            message.finished_at = now
            if error.code == "subject erased":
                message.payload = None
            return "failed"
        message.status = "pending"
        message.next_attempt_at = now + backoff(message.attempts)
        session.flush()
        notify.schedule(session, message)
        return "retry"


@jobs.handler(notify.DELIVER_JOB)
def _deliver_job(db: Database, job: Job) -> dict[str, Any]:
    return {"outcome": deliver(db, str(job.payload["message_id"]))}


@reconciler("notify.outbox")
def rearm(system: PrivasiSession) -> int:
    """Give every due message without a live delivery job a new one (a job lost or failed
    outside the message's own bookkeeping), and drop the content of long-failed messages."""
    now = utcnow()
    due = system.scalars(
        select(OutboxMessage)
        .where(
            or_(
                and_(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now - REARM_GRACE,
                ),
                and_(
                    OutboxMessage.status == "sending",
                    OutboxMessage.locked_until < now - REARM_GRACE,
                ),
            )
        )
        .order_by(OutboxMessage.next_attempt_at)
        .limit(200)
    ).all()
    count = 0
    for message in due:
        live = system.scalar(
            select(Job.id)
            .where(
                Job.dedupe_key.like(f"outbox:{message.id}:%"),
                Job.state.in_(("pending", "running")),
            )
            .limit(1)
        )
        if live is None:
            jobs.enqueue(
                system,
                notify.DELIVER_JOB,
                {"message_id": message.id},
                org_id=message.org_id,
                dedupe_key=f"outbox:{message.id}:{message.attempts}:r{int(now.timestamp())}",
                max_attempts=3,
            )
            count += 1
    result = system.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "failed",
            OutboxMessage.finished_at < now - FAILED_CONTENT_KEPT,
            OutboxMessage.payload.is_not(None),
        )
        .values(payload=None)
        .execution_options(synchronize_session=False)
    )
    return count + int(result.rowcount or 0)  # type: ignore[attr-defined]
