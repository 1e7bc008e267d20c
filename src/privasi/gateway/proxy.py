"""One gateway call from start to end: check, pseudonymise, forward, restore, record.

The database work runs in worker threads in short transactions: the key check and set-up before
detection; the transfer's record (audit event, a new conversation's mapping) while the provider
works, committed before anything of the answer goes back; how the call ended (chat log, or a
failure event) after the answer. Detection runs in a thread under a time limit, and the provider
is reached through one shared connection pool, so a slow provider never holds a database
connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from privasi.config import Settings
from privasi.db import Database, PrivasiSession
from privasi.errors import PrivasiError
from privasi.gateway import conversations, service, upstream
from privasi.gateway.detection import CachedDetector
from privasi.gateway.placeholders import ConversationMapping, json_escape
from privasi.gateway.redact import Redaction, Redactor, RequestRefused
from privasi.gateway.stream import SseRestorer
from privasi.gateway.upstream import GatewayError
from privasi.orgs.principal import Principal
from privasi.pii import Detector
from privasi.vault.core import Vault

log = logging.getLogger("privasi.gateway")
_detector: list[CachedDetector] = []
_detector_lock = threading.Lock()
SAVE_ATTEMPTS = 3


def detector() -> CachedDetector:
    with _detector_lock:
        if not _detector:
            _detector.append(CachedDetector(Detector()))
        return _detector[0]


def narrow(session: PrivasiSession, org_id: str) -> None:
    """Scope a system session that has just checked an API key to the key's organisation, so the
    call's set-up shares the key check's transaction (one commit instead of two). What the check
    changed (the key's last use) is flushed first, while the session may still write it."""
    if session.org_id == org_id:
        return
    session.flush()
    session.info["org_id"] = org_id
    session.info["system"] = False


@dataclass
class Route:
    base_url: str
    key: str | None
    terms: service.Terms
    conversation: conversations.Conversation


@dataclass
class Call:
    """Everything a call carries from its start to its record."""

    db: Database
    settings: Settings
    vault: Vault
    principal: Principal
    body: dict[str, Any]
    route: Route | None = None
    redaction: Redaction | None = None
    mapping: ConversationMapping = field(default_factory=ConversationMapping)
    answer: list[str] = field(default_factory=list)
    deferred: bool = False
    forwarded_event: str = ""

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def conversation_header(self) -> dict[str, str]:
        if self.route is None or self.route.conversation.derived:
            return {}
        if self.route.conversation.row is None:
            return {}
        return {"Privasi-Conversation": self.route.conversation.token}

    # --- before the provider ---------------------------------------------------------------------

    def _resolve(self, session: PrivasiSession, token: str | None) -> Route:
        org_id = self.principal.org_id
        key_id = self.principal.actor_id
        config = service.upstream_config(session, vault=self.vault)
        if config is None:
            raise upstream.not_configured()
        limit = config.rate_limit_per_minute or self.settings.gateway_rate_limit_per_minute
        service.count_call(session, key_id, limit)
        user = self.body.get("user")
        derived = None
        if isinstance(user, str) and user:
            derived = conversations.derived_token(
                self.settings.resolved_secret_key(), org_id, key_id, user
            )
        conversation = conversations.open_conversation(
            session, key_id, token=token, derived=derived, vault=self.vault
        )
        route = Route(config.base_url, config.key, config.terms, conversation)
        # built on first use outside the detection time limit: loading the recognizers is slow
        detector()
        return route

    def _redact(self) -> Redaction:
        assert self.route is not None
        self.mapping = ConversationMapping(self.route.conversation.mapping.values)
        redactor = Redactor(
            detector().scoped(self.principal.org_id),
            self.route.terms.recipient.action_for,
            self.mapping,
        )
        result = redactor.redact(self.body)
        if "user" in result.body:
            # the provider sees a stable pseudonymous end-user id, never the business's own
            result.body["user"] = "privasi-" + self.route.conversation.digest[:24]
        return result

    def resolve_in(self, session: PrivasiSession, token: str | None) -> None:
        """The call's set-up (blocking) in the caller's transaction, the one that checked the key:
        upstream, terms, the rate window and the conversation."""
        narrow(session, self.principal.org_id)
        try:
            self.route = self._resolve(session, token)
        except PrivasiError as exc:
            raise upstream.from_domain(exc) from None

    def resolve(self, token: str | None) -> None:
        """The call's set-up in a transaction of its own (a retry after a lost save)."""
        with self.db.session(self.principal.org_id) as session:
            self.resolve_in(session, token)

    def _needs_save(self) -> bool:
        assert self.route is not None
        conversation = self.route.conversation
        if conversation.row is not None and not self.mapping.changed:
            return False
        if conversation.row is None and not conversation.derived and not self.stream:
            # a new conversation's id reaches the client only with the answer, so its mapping
            # is written with the call's record (one transaction less per call)
            conversation.mapping = self.mapping
            self.deferred = True
            return False
        return True

    def _save(self) -> bool:
        assert self.route is not None
        conversation = self.route.conversation
        saved_mapping = conversation.mapping
        conversation.mapping = self.mapping
        with self.db.session(self.principal.org_id) as session:
            ok = conversations.save_mapping(
                session,
                conversation,
                api_key_id=self.principal.actor_id,
                terms=self.route.terms,
                vault=self.vault,
            )
            if not ok:
                conversation.mapping = saved_mapping
            return ok

    async def prepare(self, token: str | None) -> dict[str, Any]:
        """The body to send to the provider; raises ``GatewayError`` when nothing may be sent."""
        timeout = self.settings.gateway_detection_timeout_seconds
        for attempt in range(SAVE_ATTEMPTS):
            if attempt or self.route is None:
                await asyncio.to_thread(self.resolve, token)
            try:
                self.redaction = await asyncio.wait_for(asyncio.to_thread(self._redact), timeout)
            except RequestRefused as refused:
                await self.record("blocked", blocked=Counter(refused.counts))
                raise GatewayError(400, refused.message, refused.code) from None
            except TimeoutError:
                await self.record("detection_timeout")
                raise GatewayError(
                    503,
                    "personal-data detection did not finish in time, so nothing was forwarded; "
                    "try again or send a shorter request",
                    "detection_timeout",
                    type_="api_error",
                ) from None
            except Exception as exc:
                # the type only: an engine's message could quote the text it choked on
                log.warning("gateway detection failed", extra={"error": type(exc).__name__})
                await self.record("detection_failed")
                raise GatewayError(
                    500,
                    "personal-data detection failed, so nothing was forwarded",
                    "detection_failed",
                    type_="api_error",
                ) from None
            if not self._needs_save() or await asyncio.to_thread(self._save):
                return self.redaction.body
            # another call of this conversation saved first: start again from its mapping
            assert self.route is not None
            if not self.route.conversation.derived:
                token = self.route.conversation.token
        raise GatewayError(
            409, "too many simultaneous calls in one conversation", "conversation_busy"
        )

    # --- after the provider ----------------------------------------------------------------------

    def _record(self, outcome: str, blocked: Counter[str]) -> None:
        """A call that was never forwarded (blocked, or detection did not finish): one event."""
        if self.route is None:
            return
        redaction = self.redaction
        record = service.CallRecord(
            model=self.model,
            stream=self.stream,
            outcome=outcome,
            pseudonymised=redaction.pseudonymised if redaction else Counter(),
            passed=redaction.passed if redaction else Counter(),
            blocked=blocked,
        )
        conversation = self.route.conversation.row
        with self.db.session(self.principal.org_id) as session:
            service.record_call(
                session,
                self.principal,
                self.route.terms,
                conversation.id if conversation is not None else None,
                record,
                vault=self.vault,
            )

    async def record(self, outcome: str, *, blocked: Counter[str] | None = None) -> None:
        await asyncio.to_thread(self._record, outcome, blocked or Counter())

    def _record_forwarded(self) -> None:
        """The transfer, written while the provider works on the call: the audit event (counts,
        recipient, countries) and a new conversation's sealed mapping, in one transaction."""
        assert self.route is not None and self.redaction is not None
        redaction = self.redaction
        record = service.CallRecord(
            model=self.model,
            stream=self.stream,
            outcome="forwarded",
            pseudonymised=redaction.pseudonymised,
            passed=redaction.passed,
            blocked=Counter(),
        )
        with self.db.session(self.principal.org_id) as session:
            if self.deferred:
                conversations.save_mapping(
                    session,
                    self.route.conversation,
                    api_key_id=self.principal.actor_id,
                    terms=self.route.terms,
                    vault=self.vault,
                )
            conversation = self.route.conversation.row
            self.forwarded_event = service.record_call(
                session,
                self.principal,
                self.route.terms,
                conversation.id if conversation is not None else None,
                record,
                vault=self.vault,
                touch=not self.deferred,
            )

    def _forward_record(self) -> asyncio.Future[None]:
        """Start writing the transfer's record in a worker thread; the caller forwards the call
        meanwhile (the gateway's core is otherwise idle while the provider works) and awaits it
        in ``_settle`` before anything of the answer goes back."""
        return asyncio.ensure_future(asyncio.to_thread(self._record_forwarded))

    def _needs_outcome(self, outcome: str) -> bool:
        assert self.route is not None
        if outcome != "ok":
            return True
        return self.route.terms.keep_logs and self.route.conversation.row is not None

    def _record_outcome(self, outcome: str, status: int | None) -> None:
        """How a forwarded call ended: its chat log and, for a failure, its outcome event; a new
        conversation whose id never reached the client is deleted with it."""
        assert self.route is not None and self.redaction is not None
        record = service.CallRecord(
            model=self.model,
            stream=self.stream,
            outcome=outcome,
            pseudonymised=self.redaction.pseudonymised,
            passed=self.redaction.passed,
            blocked=Counter(),
            sent=self.redaction.body,
            answer="".join(self.answer),
            upstream_status=status,
        )
        with self.db.session(self.principal.org_id) as session:
            conversation = self.route.conversation
            if outcome != "ok" and self.deferred:
                conversations.discard(session, conversation)
            service.record_outcome(
                session,
                self.principal,
                self.route.terms,
                conversation.row.id if conversation.row is not None else None,
                record,
                forwarded_event=self.forwarded_event,
                vault=self.vault,
            )

    async def _settle(
        self, forwarded: asyncio.Future[None], outcome: str, status: int | None = None
    ) -> None:
        """Wait for the transfer's record, then write the outcome's; raise if either failed, so an
        answer is never returned without its records committed."""
        try:
            await forwarded
            if self._needs_outcome(outcome):
                await asyncio.to_thread(self._record_outcome, outcome, status)
        except Exception as exc:
            self._record_failed(exc)

    def _record_failed(self, exc: Exception) -> NoReturn:
        # the type only: a driver's message could quote a value
        log.error("gateway call record failed", extra={"error": type(exc).__name__})
        raise GatewayError(
            500,
            "the call could not be recorded, so its answer is withheld; it was not retried",
            "record_failed",
            type_="api_error",
        ) from None

    def record_now(self, outcome: str, status: int | None = None) -> None:
        """For a stream the client closed: the loop is being torn down, so record inline."""
        self._record_outcome(outcome, status)

    # --- the provider ----------------------------------------------------------------------------

    async def complete(self, outgoing: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed completion, restored."""
        assert self.route is not None
        try:
            content = upstream.json_body(outgoing)
        except ValueError:
            raise GatewayError(
                400,
                "the request holds a number JSON cannot carry (NaN or Infinity)",
                "invalid_json",
            ) from None
        sent = asyncio.ensure_future(
            upstream.post_json(
                self.route.base_url + "/chat/completions",
                content,
                upstream.headers_for(self.route.key),
                upstream.timeout_for(self.settings.gateway_upstream_timeout_seconds),
            )
        )
        # scheduled after the request, so the request goes out first
        forwarded = self._forward_record()
        try:
            response = await sent
        except httpx.HTTPError as exc:
            error = upstream.transport_error(exc)
            await self._settle(forwarded, error.code)
            raise error from None
        if response.status_code >= 400:
            await self._settle(forwarded, "upstream_error", response.status_code)
            raise upstream.upstream_error(response.status_code, response.content, response.headers)
        try:
            data = response.json()
        except ValueError:
            await self._settle(forwarded, "upstream_invalid", response.status_code)
            raise GatewayError(
                502, "the AI provider's answer is not JSON", "upstream_invalid", type_="api_error"
            ) from None
        restored = self.restore_completion(data)
        await self._settle(forwarded, "ok", response.status_code)
        return restored

    def restore_completion(self, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for choice in data.get("choices") or []:
            message = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(message, dict):
                continue
            for key in ("content", "refusal"):
                if isinstance(message.get(key), str):
                    self.answer.append(message[key])
                    message[key] = self.mapping.restore(message[key])
            calls = list(message.get("tool_calls") or [])
            if isinstance(message.get("function_call"), dict):
                calls.append({"function": message["function_call"]})
            for call in calls:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    self.answer.append(function["arguments"])
                    function["arguments"] = self.mapping.restore(function["arguments"], json_escape)
        return data

    async def open_stream(self, outgoing: dict[str, Any]) -> AsyncIterator[bytes]:
        """Start the provider's stream; errors before the first byte are raised, not streamed."""
        assert self.route is not None
        request = upstream.client().build_request(
            "POST",
            self.route.base_url + "/chat/completions",
            json=outgoing,
            headers={**upstream.headers_for(self.route.key), "Accept": "text/event-stream"},
            timeout=upstream.timeout_for(self.settings.gateway_upstream_timeout_seconds),
        )
        forwarded = self._forward_record()
        try:
            response = await upstream.client().send(request, stream=True)
        except httpx.HTTPError as exc:
            error = upstream.transport_error(exc)
            await self._settle(forwarded, error.code)
            raise error from None
        if response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            await self._settle(forwarded, "upstream_error", response.status_code)
            raise upstream.upstream_error(response.status_code, content, response.headers)
        try:
            await forwarded
        except Exception as exc:
            await response.aclose()
            self._record_failed(exc)
        return self._relay(response)

    async def _relay(self, response: httpx.Response) -> AsyncIterator[bytes]:
        restorer = SseRestorer(self.mapping, self.answer.append)
        outcome = "client_closed"
        status = response.status_code
        recorded = False
        try:
            event: list[bytes] = []
            done = False
            async for line in response.aiter_lines():
                event.extend(restorer.line(line))
                done = done or (line.startswith("data:") and line[5:].strip() == "[DONE]")
                if not line and not done:
                    # one write per event, not per line: each write costs a trip through the server
                    yield b"".join(event)
                    event.clear()
            event.extend(restorer.finish())
            outcome = "ok"
            # the stream's end goes out only once the call's records are committed
            try:
                if self._needs_outcome(outcome):
                    await asyncio.to_thread(self._record_outcome, outcome, status)
            except Exception as exc:
                log.error("gateway call record failed", extra={"error": type(exc).__name__})
                event = [_stream_error("the call could not be recorded", "record_failed")]
            recorded = True
            if event:
                yield b"".join(event)
        except httpx.HTTPError:
            outcome = "upstream_stream_error"
            yield _stream_error(
                "the AI provider's stream broke off; the call was not retried", outcome
            )
        finally:
            await response.aclose()
            if outcome == "client_closed":
                self.record_now(outcome, status)
        if not recorded and self._needs_outcome(outcome):
            await asyncio.to_thread(self._record_outcome, outcome, status)


def _stream_error(message: str, code: str) -> bytes:
    error = {"error": {"message": message, "type": "api_error", "code": code}}
    return f"data: {json.dumps(error)}\n\n".encode()
