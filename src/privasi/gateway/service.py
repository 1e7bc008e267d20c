"""The gateway's rules: upstream configuration, the policy's terms for a provider, conversations,
rate limits and the record of every call. No HTTP here; ``api.py`` drives a call through these.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from privasi.audit import service as audit
from privasi.audit.chain import looks_personal
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import RateLimited, ValidationFailed
from privasi.gateway.models import (
    GatewayChatLog,
    GatewayConversation,
    GatewayRateWindow,
    GatewayUpstream,
)
from privasi.orgs.principal import Principal
from privasi.policy import service as policies
from privasi.policy.schema import Policy, Recipient
from privasi.policy.vocab import StartEvent, SystemKind
from privasi.vault import service as vault_service
from privasi.vault.core import Vault

UPSTREAM_KEY_SECRET = "gateway_upstream_key"
# Used when no retention rule of the policy covers what the provider's purposes collect.
DEFAULT_CHAT_RETENTION = timedelta(days=30)
RATE_WINDOW = timedelta(minutes=1)


# --- configuration -----------------------------------------------------------------------------


def get_upstream(session: PrivasiSession) -> GatewayUpstream | None:
    session.require_org()
    return session.scalar(select(GatewayUpstream))


def check_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("base_url is an http(s) URL such as https://api.openai.com/v1")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationFailed(
            "base_url carries no credentials, query or fragment; the key is stored apart",
            field="base_url",
        )
    return url


def configure(
    session: PrivasiSession,
    principal: Principal,
    *,
    base_url: str,
    api_key: str | None = None,
    recipient_id: str | None = None,
    rate_limit_per_minute: int | None = None,
    vault: Vault | None = None,
) -> GatewayUpstream:
    """Point the organisation's gateway at a provider. The key is stored as a sealed secret."""
    # The stored key goes wherever base_url points: moving it is managing that secret (which a
    # processor acting through a hosting grant never may).
    principal.require("secrets.manage")
    url = check_base_url(base_url)
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise ValidationFailed("rate_limit_per_minute is at least 1", field="rate_limit_per_minute")
    if recipient_id is not None:
        policy = policies.current_policy(session)
        provider_of(policy, recipient_id)
    row = get_upstream(session)
    created = row is None
    if row is None:
        row = GatewayUpstream(base_url=url)
        session.add(row)
    row.base_url = url
    row.recipient_id = recipient_id
    row.rate_limit_per_minute = rate_limit_per_minute
    row.updated_at = utcnow()
    row.updated_by = principal.actor[:100]
    if api_key:
        vault_service.set_secret(session, principal, UPSTREAM_KEY_SECRET, api_key, vault=vault)
        row.credential = UPSTREAM_KEY_SECRET
    session.flush()
    forget_config(session.require_org())
    audit.record(
        session,
        principal,
        "gateway.configured",
        details={
            "created": created,
            "host": urlsplit(url).hostname,
            "recipient": recipient_id,
            "key_stored": row.credential is not None,
        },
        vault=vault,
    )
    return row


def remove_upstream(
    session: PrivasiSession, principal: Principal, vault: Vault | None = None
) -> bool:
    """Forget the upstream and its stored key; False when none was configured (nothing changes)."""
    principal.require("secrets.manage")
    row = get_upstream(session)
    if row is None:
        return False
    if row.credential and vault_service.has_secret(session, row.credential):
        vault_service.delete_secret(session, principal, row.credential, vault=vault)
    session.delete(row)
    session.flush()
    forget_config(session.require_org())
    audit.record(session, principal, "gateway.removed", vault=vault)
    return True


def upstream_key(
    session: PrivasiSession, row: GatewayUpstream, vault: Vault | None = None
) -> str | None:
    if row.credential is None:
        return None
    return vault_service.get_secret(session, row.credential, vault=vault)


# --- the policy's terms for a provider -----------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What the policy says about calls to one AI provider."""

    recipient: Recipient
    keep_logs: bool
    retention: timedelta
    from_last_use: bool

    @property
    def countries(self) -> list[str]:
        return list(self.recipient.countries)


def provider_of(policy: Policy, recipient_id: str) -> Recipient:
    try:
        recipient = policy.recipient(recipient_id)
    except KeyError:
        raise ValidationFailed(
            f"the policy in effect has no recipient '{recipient_id}'", field="recipient"
        ) from None
    if not recipient.ai_provider:
        raise ValidationFailed(
            f"recipient '{recipient_id}' is not declared as an AI provider (ai_provider: true)",
            field="recipient",
        )
    return recipient


def terms_for(policy: Policy, recipient: Recipient) -> Terms:
    """Chat logs are kept when a privasi system of the policy holds a category the provider's
    purposes collect; they and the conversation mapping last as long as the shortest retention
    rule over those categories or purposes that runs from collection or last use."""
    categories: set[str] = set()
    for purpose_id in recipient.purposes:
        try:
            categories.update(policy.purpose(purpose_id).categories)
        except KeyError:
            continue
    keep = any(
        s.kind is SystemKind.privasi and categories & set(s.all_categories())
        for s in policy.systems
    )
    best: tuple[timedelta, bool] | None = None
    for rule in policy.retention.rules:
        if not (categories & set(rule.categories) or set(recipient.purposes) & set(rule.purposes)):
            continue
        if rule.start not in (StartEvent.collected, StartEvent.last_interaction):
            continue
        span = rule.period.approx_timedelta()
        if best is None or span < best[0]:
            best = (span, rule.start is StartEvent.last_interaction)
    retention, from_last_use = best or (DEFAULT_CHAT_RETENTION, False)
    return Terms(recipient, keep, retention, from_last_use)


_terms_cache: dict[tuple[str, str, str], Terms] = {}
_terms_lock = threading.Lock()


def current_terms(session: PrivasiSession, recipient_id: str | None) -> Terms:
    """The terms under the policy in effect (parsed once per published version)."""
    version = policies.current_version(session)
    if version is None:
        raise ValidationFailed("no policy is in effect: publish one before using the gateway")
    key = (session.require_org(), version.id, recipient_id or "")
    with _terms_lock:
        found = _terms_cache.get(key)
    if found is not None:
        return found
    policy = policies.to_policy(session, version)
    if recipient_id is None:
        providers = policy.ai_providers()
        if len(providers) != 1:
            raise ValidationFailed(
                "name the AI provider this upstream is (the recipient id in the policy): "
                f"the policy declares {len(providers)} AI providers"
            )
        recipient = providers[0]
    else:
        recipient = provider_of(policy, recipient_id)
    terms = terms_for(policy, recipient)
    with _terms_lock:
        if len(_terms_cache) > 1024:
            _terms_cache.clear()
        _terms_cache[key] = terms
    return terms


@dataclass(frozen=True)
class UpstreamConfig:
    """What a call needs to know about the organisation's upstream and the policy's terms."""

    base_url: str
    key: str | None
    rate_limit_per_minute: int | None
    terms: Terms


# Each process reads the configuration at most every few seconds: a change made through another
# process (or a newly published policy) applies within CONFIG_TTL_SECONDS; one made in this process
# applies at once.
CONFIG_TTL_SECONDS = 5.0
_configs: dict[str, tuple[float, UpstreamConfig]] = {}


def forget_config(org_id: str) -> None:
    with _terms_lock:
        _configs.pop(org_id, None)


def upstream_config(session: PrivasiSession, vault: Vault | None = None) -> UpstreamConfig | None:
    org_id = session.require_org()
    now = time.monotonic()
    with _terms_lock:
        cached = _configs.get(org_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = get_upstream(session)
    if row is None:
        forget_config(org_id)
        return None
    config = UpstreamConfig(
        row.base_url,
        upstream_key(session, row, vault=vault),
        row.rate_limit_per_minute,
        current_terms(session, row.recipient_id),
    )
    with _terms_lock:
        if len(_configs) > 4096:
            _configs.clear()
        _configs[org_id] = (now + CONFIG_TTL_SECONDS, config)
    return config


# --- rate limits -------------------------------------------------------------------------------


RATE_WINDOWS = cast(Table, GatewayRateWindow.__table__)
CHAT_LOGS = cast(Table, GatewayChatLog.__table__)
_count_statements: dict[str, Any] = {}


def _count_statement(dialect: str) -> Any:
    """One upsert that counts the call and returns the window's count: a single round trip,
    atomic in the database, so every process shares the limit. Built once per dialect."""
    found = _count_statements.get(dialect)
    if found is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = RATE_WINDOWS
        found = (
            insert(table)
            .on_conflict_do_update(
                index_elements=["org_id", "api_key_id", "window_start"],
                set_={"calls": table.c.calls + 1},
            )
            .returning(table.c.calls)
        )
        _count_statements[dialect] = found
    return found


def count_call(session: PrivasiSession, api_key_id: str, limit: int) -> None:
    """Count one call in this minute's window (shared by every process); refuse past the limit."""
    now = utcnow()
    window = now.replace(second=0, microsecond=0)
    calls = session.execute(
        _count_statement(session.get_bind().dialect.name),
        {"id": new_id(), "api_key_id": api_key_id, "window_start": window, "calls": 1},
    ).scalar_one()
    if calls > limit:
        retry = max(1, int((window + RATE_WINDOW - now).total_seconds()) + 1)
        raise RateLimited(
            f"this API key may make {limit} gateway calls a minute; try again in {retry} s",
            retry_after=retry,
        )


# --- the record of a call ----------------------------------------------------------------------


@dataclass
class CallRecord:
    model: str
    stream: bool
    outcome: str
    pseudonymised: Counter[str]
    passed: Counter[str]
    blocked: Counter[str]
    sent: Any = None  # the pseudonymised request body, for the chat log
    answer: str = ""  # the pseudonymised answer text, for the chat log
    upstream_status: int | None = None


def _model_name(model: str) -> str:
    return model[:100] if model and not looks_personal(model) else "unknown"


def record_call(
    session: PrivasiSession,
    principal: Principal,
    terms: Terms,
    conversation_id: str | None,
    call: CallRecord,
    *,
    vault: Vault | None = None,
    touch: bool = True,
) -> str:
    """One audit event per call (counts, never values). Returns the event's id.

    A forwarded call's event is written while the provider works (outcome ``forwarded``: what
    was disclosed, to whom and where is known before the answer); how it ended follows in
    ``record_outcome``. A call refused before forwarding has one event with its outcome.
    ``touch=False`` when the conversation was created in this transaction (already just used)."""
    now = utcnow()
    details: dict[str, Any] = {
        "recipient": terms.recipient.id,
        "countries": terms.countries,
        "cross_border": any(c != "ID" for c in terms.countries),
        "model": _model_name(call.model),
        "stream": call.stream,
        "outcome": call.outcome,
        "pseudonymised": dict(call.pseudonymised),
        "passed": dict(call.passed),
        "blocked": dict(call.blocked),
    }
    if conversation_id:
        details["conversation"] = conversation_id
    event = audit.record(
        session,
        principal,
        "gateway.call",
        purpose=terms.recipient.purposes[0],
        count=sum(call.pseudonymised.values()),
        details=details,
        vault=vault,
    )
    if conversation_id and terms.from_last_use and touch:
        session.execute(
            update(GatewayConversation)
            .where(GatewayConversation.id == conversation_id)
            .values(last_used_at=now, expires_at=now + terms.retention),
            execution_options={"synchronize_session": False},
        )
    return event.id


def record_outcome(
    session: PrivasiSession,
    principal: Principal,
    terms: Terms,
    conversation_id: str | None,
    call: CallRecord,
    *,
    forwarded_event: str,
    vault: Vault | None = None,
) -> None:
    """How a forwarded call ended: the chat log (if the policy keeps them) and, unless the answer
    came back whole, a ``gateway.call_failed`` event naming the call's ``gateway.call`` event."""
    if call.outcome != "ok":
        details: dict[str, Any] = {
            "recipient": terms.recipient.id,
            "model": _model_name(call.model),
            "stream": call.stream,
            "outcome": call.outcome,
            "call_event": forwarded_event,
        }
        if call.upstream_status is not None:
            details["upstream_status"] = call.upstream_status
        if conversation_id:
            details["conversation"] = conversation_id
        audit.record(
            session,
            principal,
            "gateway.call_failed",
            purpose=terms.recipient.purposes[0],
            details=details,
            vault=vault,
        )
    log_chat(session, terms, conversation_id, call)


def log_chat(
    session: PrivasiSession, terms: Terms, conversation_id: str | None, call: CallRecord
) -> None:
    """The call as the provider saw it, if the policy keeps chat logs (a no-op otherwise)."""
    if not (terms.keep_logs and conversation_id and call.sent is not None):
        return
    now = utcnow()
    session.execute(
        insert(CHAT_LOGS),
        [
            {
                "id": new_id(),
                "conversation_id": conversation_id,
                "recipient_id": terms.recipient.id,
                "model": _model_name(call.model),
                "request_text": json.dumps(call.sent, ensure_ascii=False),
                "response_text": call.answer,
                "outcome": call.outcome,
                "created_at": now,
                "expires_at": now + terms.retention,
            }
        ],
    )


def chat_logs(session: PrivasiSession, conversation_id: str | None = None) -> list[GatewayChatLog]:
    statement = select(GatewayChatLog).order_by(GatewayChatLog.created_at)
    if conversation_id is not None:
        statement = statement.where(GatewayChatLog.conversation_id == conversation_id)
    return list(session.scalars(statement))


def purge_expired(system: PrivasiSession, now: datetime | None = None) -> int:
    """Delete conversations (their sealed mappings) and chat logs past retention, and old rate
    windows. Runs in the worker across organisations."""
    now = now or utcnow()
    removed = 0
    for statement in (
        delete(GatewayConversation).where(GatewayConversation.expires_at <= now),
        delete(GatewayChatLog).where(GatewayChatLog.expires_at <= now),
        delete(GatewayRateWindow).where(GatewayRateWindow.window_start < now - timedelta(hours=1)),
    ):
        result = system.execute(statement)
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed
