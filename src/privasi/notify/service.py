"""What other domains use from the outbox: ``enqueue`` in their own transaction, ``render`` and the
delivery state of a message. Delivery itself (the worker's part) is in ``delivery.py``.

A message is written in the same transaction as the change that causes it (a withdrawal and its
confirmation commit together or not at all) and delivered later by the worker, with retries.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from privasi.config import Settings
from privasi.db import Database, PrivasiSession, new_id, utcnow
from privasi.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from privasi.jobs import service as jobs
from privasi.notify.models import OutboxMessage
from privasi.notify.templates import (
    RenderedMessage,
    catalogue,
    check_lang,
    context_for,
    get_template,
)
from privasi.notify.templates import render as _render
from privasi.orgs import service as orgs
from privasi.vault.service import Vault, vault_for

CHANNELS = ("email", "whatsapp", "webhook")
DELIVER_JOB = "notify.deliver"
MAX_PARAMS_BYTES = 32_768
MAX_PAGE = 200

__all__ = [
    "CHANNELS",
    "OutboxMessage",
    "RenderedMessage",
    "cancel",
    "configure",
    "enqueue",
    "list_messages",
    "message_status",
    "render",
    "retry",
    "settings_for",
    "template_names",
]

_settings: weakref.WeakKeyDictionary[Engine, Settings] = weakref.WeakKeyDictionary()


def configure(db: Database, settings: Settings) -> None:
    """Tell delivery which settings (mail server, WhatsApp base URL) go with this database."""
    _settings[db.engine] = settings


def settings_for(db: Database) -> Settings:
    """The settings delivery uses: configured ones, else those the attached vault was built
    from (the app, the CLI and the tests all build one), else the environment's."""
    from privasi.vault.core import attached_to

    return _settings_of(db.engine, attached_to(db))


def _session_settings(session: PrivasiSession) -> Settings:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return _settings_of(engine, vault_for(session))


def _settings_of(engine: Engine, vault: Vault | None) -> Settings:
    found = _settings.get(engine)
    if found is not None:
        return found
    from_vault = getattr(vault, "_settings", None) if vault is not None else None
    return from_vault if isinstance(from_vault, Settings) else Settings()


def render(template: str, lang: str, params: dict[str, Any]) -> RenderedMessage:
    """A message as it will be sent (``org_name`` must be among ``params`` here)."""
    return _render(template, lang, params)


def template_names() -> list[str]:
    return sorted(catalogue())


def _aad(message_id: str) -> str:
    return f"outbox:{message_id}"


def seal_payload(
    vault: Vault, org_id: str, message_id: str, subject_id: str | None, payload: dict[str, Any]
) -> tuple[str, str]:
    """The recipient and parameters as one ciphertext: under the subject's key when there is a
    subject (their erasure reaches queued messages too), else under the organisation's key."""
    if subject_id is not None:
        return "subject", vault.encrypt_field(org_id, subject_id, payload, _aad(message_id))
    plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return "org", vault.seal_for_org(org_id, "secrets", plain, _aad(message_id))


def open_payload(vault: Vault, message: OutboxMessage) -> dict[str, Any]:
    assert message.payload is not None
    if message.payload_key == "subject":
        assert message.subject_id is not None
        value = vault.decrypt_field(
            message.org_id, message.subject_id, message.payload, _aad(message.id)
        )
    else:
        raw = vault.open_for_org(message.org_id, "secrets", message.payload, _aad(message.id))
        value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("an outbox payload is a JSON object")
    return value


def _plain(value: Any) -> Any:
    """Dates and times as ISO text, so callers may pass them as they have them."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _check_to(channel: str, to: str | None, subject_id: str | None) -> str | None:
    if to is None:
        if channel == "webhook":
            raise ValidationFailed("a webhook message needs 'to': the URL to post to", field="to")
        if subject_id is None:
            raise ValidationFailed(
                "give 'to', or a subject_id whose e-mail or number is on record", field="to"
            )
        return None
    to = to.strip()
    if not to or len(to) > 2000:
        raise ValidationFailed("'to' must be 1-2000 characters", field="to")
    if channel == "webhook":
        parts = urlsplit(to)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("a webhook URL must be http:// or https://", field="to")
    elif channel == "email" and ("@" not in to or any(c in to for c in "\r\n<>,;")):
        raise ValidationFailed("'to' is not an e-mail address", field="to")
    elif channel == "whatsapp":
        digits = to.lstrip("+")
        if not digits.isdigit() or not 7 <= len(digits) <= 15:
            raise ValidationFailed(
                "'to' must be a phone number in international form (E.164 digits)", field="to"
            )
        to = digits  # the Cloud API addresses numbers without the plus sign
    return to


def enqueue(
    session: PrivasiSession,
    *,
    channel: str,
    template: str,
    lang: str,
    params: dict[str, Any],
    subject_id: str | None = None,
    to: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue a message in the caller's transaction; delivered by the worker once it commits.

    ``to`` is an e-mail address, a WhatsApp number or a webhook URL; without it the subject's
    address on record is looked up when the message is sent. With a ``dedupe_key`` the message
    already queued under that key is returned instead of a second one.
    """
    org_id = session.require_org()
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    spec = get_template(template)
    check_lang(lang)
    if dedupe_key is not None:
        if not 1 <= len(dedupe_key) <= 200:
            raise ValidationFailed("dedupe_key must be 1-200 characters", field="dedupe_key")
        existing = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    to = _check_to(channel, to, subject_id)
    if subject_id is not None:
        from privasi.subjects import service as subjects

        subjects.get_subject(session, subject_id)  # NotFound for an id of nobody here
    org = orgs.get_org(session, org_id)
    full = {"org_name": org.name, "time_zone": org.time_zone, **_plain(params)}
    try:
        encoded = json.dumps(full, ensure_ascii=False)
    except (TypeError, ValueError):
        raise ValidationFailed("params must be JSON values", field="params") from None
    if len(encoded.encode()) > MAX_PARAMS_BYTES:
        raise ValidationFailed(f"params are larger than {MAX_PARAMS_BYTES} bytes", field="params")
    # Render now so a missing parameter fails the caller's transaction, not the worker later.
    context_for(spec, lang, full)
    _render(template, lang, full)
    settings_max = _max_attempts(session)
    message_id = new_id()
    payload_key, payload = seal_payload(
        vault_for(session), org_id, message_id, subject_id, {"to": to, "params": full}
    )
    message = OutboxMessage(
        id=message_id,
        channel=channel,
        template=template,
        lang=lang,
        subject_id=subject_id,
        dedupe_key=dedupe_key,
        payload_key=payload_key,
        payload=payload,
        status="pending",
        max_attempts=settings_max,
        next_attempt_at=utcnow(),
    )
    if session.get_bind().dialect.name == "postgresql":
        # A concurrent caller may commit the same dedupe key first: theirs is the message.
        nested = session.begin_nested()
        session.add(message)
        try:
            nested.commit()
        except IntegrityError:
            nested.rollback()
            existing = session.scalar(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
            )
            if existing is None:
                raise
            return existing
    else:
        # No savepoint on SQLite: pysqlite opens the transaction only at the first write, so a
        # savepoint before it would commit the message on its own, outside the caller's change.
        # Writers are serialised there; a lost race on a dedupe key is reported as a conflict.
        session.add(message)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict("a message with this dedupe key is being queued; try again") from exc
    schedule(session, message)
    return message


def _max_attempts(session: PrivasiSession) -> int:
    return _session_settings(session).outbox_max_attempts


def schedule(session: PrivasiSession, message: OutboxMessage) -> None:
    """A delivery job for the message's next attempt (one per attempt, so retries never merge)."""
    jobs.enqueue(
        session,
        DELIVER_JOB,
        {"message_id": message.id},
        org_id=message.org_id,
        due_at=message.next_attempt_at,
        dedupe_key=f"outbox:{message.id}:{message.attempts}",
        max_attempts=3,
    )


def message_status(session: PrivasiSession, message_id: str) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id) if len(message_id) <= 36 else None
    if message is None or message.org_id != session.require_org():
        raise NotFound("message not found")
    return message


@dataclass
class Page:
    items: list[OutboxMessage]
    next_cursor: str | None


def list_messages(
    session: PrivasiSession,
    *,
    subject_id: str | None = None,
    status: str | None = None,
    template: str | None = None,
    channel: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Messages newest first; ``cursor`` is the last id of the previous page."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(OutboxMessage)
    if subject_id is not None:
        query = query.where(OutboxMessage.subject_id == subject_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if template is not None:
        query = query.where(OutboxMessage.template == template)
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    if cursor is not None:
        last = session.get(OutboxMessage, cursor) if len(cursor) <= 36 else None
        if last is None:
            raise ValidationFailed("unknown cursor", field="cursor")
        query = query.where(
            (OutboxMessage.created_at < last.created_at)
            | ((OutboxMessage.created_at == last.created_at) & (OutboxMessage.id < last.id))
        )
    rows: Sequence[OutboxMessage] = session.scalars(
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit + 1)
    ).all()
    items = list(rows[:limit])
    return Page(items, items[-1].id if len(rows) > limit else None)


def retry(session: PrivasiSession, message_id: str, now: datetime | None = None) -> OutboxMessage:
    """Give a failed message a fresh set of attempts, from now."""
    message = message_status(session, message_id)
    if message.status != "failed":
        raise InvalidTransition(
            f"only a failed message can be retried; this one is {message.status}"
        )
    if message.payload is None:
        raise Conflict("this message's content has been removed; queue a new message")
    message.status = "pending"
    message.max_attempts = message.attempts + _max_attempts(session)
    message.next_attempt_at = now or utcnow()
    message.finished_at = None
    session.flush()
    schedule(session, message)
    return message


def cancel(session: PrivasiSession, message_id: str) -> OutboxMessage:
    """Stop a message that has not been sent; its content is removed at once."""
    message = message_status(session, message_id)
    if message.status not in ("pending", "failed"):
        raise InvalidTransition(f"a {message.status} message cannot be cancelled")
    message.status = "cancelled"
    message.payload = None
    message.finished_at = utcnow()
    session.flush()
    return message


# Delivery registers its job handler and reconciler on import; whoever queues messages gets them.
from privasi.notify import delivery as _delivery  # noqa: E402,F401
from privasi.notify import material as _material  # noqa: E402,F401
