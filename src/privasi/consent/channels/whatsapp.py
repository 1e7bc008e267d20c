"""The WhatsApp Business Platform webhook: opt-out and opt-in keywords, preference and number changes.

Meta signs every delivery with the app secret (``X-Hub-Signature-256``: HMAC-SHA256 over the raw
body); nothing is read before that check passes. Each organisation keeps its app secret and its
verify token in the secrets store (``whatsapp_app_secret``, ``whatsapp_verify_token``).

What a message does:

- STOP, BERHENTI, UNSUBSCRIBE, STOP PROMO (or a keyword a purpose declares in
  ``opt_out_keywords``): withdraws WhatsApp marketing consent and queues a confirmation reply.
- START, MULAI: grants it again, only for purposes whose policy allows ``keyword_opt_in``.
- ``user_preferences`` (the person's marketing stop/resume switch in WhatsApp): the same rules.
- ``user_changed_number``: the new number is added to the same data subject, so an opt-out
  follows the person to their new number.

Meta retries deliveries, so each item is acted on once (``WhatsAppDelivery``). Anything else is
acknowledged and logged by shape only: message bodies and numbers never reach the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from privasi.consent import service as consent
from privasi.consent.channels.models import WhatsAppDelivery
from privasi.consent.purposes import policy_in_effect
from privasi.db import PrivasiSession
from privasi.errors import PrivasiError
from privasi.notify import service as notify
from privasi.orgs.service import Principal
from privasi.policy.schema import Policy, Purpose
from privasi.policy.vocab import Channel, LegalBasis, PurposeKind
from privasi.subjects import service as subjects
from privasi.vault import service as vault

log = logging.getLogger("privasi.consent.whatsapp")

APP_SECRET = "whatsapp_app_secret"
VERIFY_TOKEN = "whatsapp_verify_token"
SIGNATURE_HEADER = "X-Hub-Signature-256"
# The keyword and the language the person wrote in (None: either; the organisation's first).
OPT_OUT_KEYWORDS: dict[str, str | None] = {
    "stop": None,
    "berhenti": "id",
    "unsubscribe": "en",
    "stop promo": "id",
}
OPT_IN_KEYWORDS: dict[str, str | None] = {"start": "en", "mulai": "id"}
RESUME_KEYWORD = {"id": "MULAI", "en": "START"}
NOTHING_TO_WITHDRAW = frozenset({"no_consent", "withdrawn", "unknown_subject", "unknown_purpose"})
NUMBER_CHANGE_TYPES = frozenset({"user_changed_number", "customer_changed_number"})
# Removed before a keyword is compared: people type "Stop!" or "BERHENTI." just as often.
_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)


@dataclass
class Outcome:
    """What one delivery did, by counts only (it is logged and returned to Meta's retry logic)."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, what: str) -> None:
        self.counts[what] += 1


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def org_secret(session: PrivasiSession, name: str) -> str | None:
    """The organisation's secret, or None when it has not configured WhatsApp yet."""
    return vault.get_secret(session, name) if vault.has_secret(session, name) else None


def verify_token_valid(session: PrivasiSession, token: str | None) -> bool:
    expected = org_secret(session, VERIFY_TOKEN)
    return bool(expected and token) and hmac.compare_digest(
        str(expected).encode(), str(token).encode()
    )


def keyword(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text).casefold().split())


def marketing_purposes(policy: Policy) -> list[Purpose]:
    """Consent-based marketing that may reach people on WhatsApp (no channels listed: any)."""
    return [
        p
        for p in policy.purposes
        if p.legal_basis is LegalBasis.consent
        and p.kind is PurposeKind.marketing
        and (not p.channels or Channel.whatsapp in p.channels)
    ]


def _declared_opt_out(policy: Policy, word: str) -> list[Purpose]:
    return [
        p
        for p in policy.purposes
        if p.legal_basis is LegalBasis.consent and word in {keyword(k) for k in p.opt_out_keywords}
    ]


class Handler:
    """Acts on one signed delivery for one organisation, inside the caller's transaction."""

    def __init__(self, session: PrivasiSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.policy, self.version = policy_in_effect(session)
        self.outcome = Outcome()

    # --- entry point ---------------------------------------------------------------------------

    def handle(self, payload: Any) -> Outcome:
        entries = payload.get("entry") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            self._unknown("no entry list")
            return self.outcome
        for entry in entries:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else []:
                if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                    self._unknown("change without value")
                    continue
                value = change["value"]
                if change.get("field") == "messages":
                    for message in _list(value.get("messages")):
                        self._guarded(self._message, message, value)
                    if value.get("statuses"):
                        self.outcome.add("statuses_ignored")
                elif change.get("field") == "user_preferences":
                    for pref in _list(value.get("user_preferences")):
                        self._guarded(self._preference, pref, value)
                else:
                    self._unknown(f"field {str(change.get('field'))[:40]}")
        return self.outcome

    def _guarded(self, step: Any, item: Any, value: dict[str, Any]) -> None:
        """One bad item (an invalid number, a minor) is logged and skipped; the rest still run."""
        if not isinstance(item, dict):
            self._unknown("item is not an object")
            return
        try:
            with self.session.begin_nested():
                step(item, value)
        except PrivasiError as exc:
            self.outcome.add("refused")
            log.warning("whatsapp item refused", extra={"problem": exc.type})

    def _unknown(self, shape: str) -> None:
        self.outcome.add("unknown")
        log.info("whatsapp payload not understood; acknowledged", extra={"shape": shape})

    def _first_time(self, key: str, kind: str, outcome: str) -> bool:
        """Record the item as handled; False when an earlier delivery already did."""
        if self.session.scalar(select(WhatsAppDelivery.id).where(WhatsAppDelivery.item_key == key)):
            return False
        try:
            with self.session.begin_nested():
                self.session.add(WhatsAppDelivery(item_key=key, kind=kind, outcome=outcome))
        except IntegrityError:
            return False  # a concurrent retry of the same delivery got there first
        return True

    # --- messages ------------------------------------------------------------------------------

    def _message(self, message: dict[str, Any], value: dict[str, Any]) -> None:
        sender = message.get("from")
        message_id = str(message.get("id") or "")
        if not isinstance(sender, str) or not message_id:
            self._unknown("message without sender or id")
            return
        kind = message.get("type")
        if kind == "system":
            system = _dict(message.get("system"))
            if system.get("type") in NUMBER_CHANGE_TYPES:
                new = system.get("new_wa_id") or system.get("wa_id")
                if isinstance(new, str) and self._first_time(message_id, "number", "changed"):
                    self._number_changed(sender, new)
                return
            self.outcome.add("system_ignored")
            return
        text = _dict(message.get("text"))
        body = text.get("body") if kind == "text" else None
        if not isinstance(body, str):
            self.outcome.add("message_ignored")
            return
        word = keyword(body)
        declared = _declared_opt_out(self.policy, word)
        if word in OPT_OUT_KEYWORDS or declared:
            if self._first_time(message_id, "keyword", "opt_out"):
                lang = OPT_OUT_KEYWORDS.get(word) or self._default_lang()
                purposes = declared or marketing_purposes(self.policy)
                self._opt_out(sender, purposes, lang, "keyword", body, reply_key=message_id)
        elif word in OPT_IN_KEYWORDS:
            if self._first_time(message_id, "keyword", "opt_in"):
                lang = OPT_IN_KEYWORDS[word] or self._default_lang()
                self._opt_in(sender, lang, "keyword", body)
        else:
            self.outcome.add("message_ignored")

    def _preference(self, pref: dict[str, Any], value: dict[str, Any]) -> None:
        wa_id, choice = pref.get("wa_id"), pref.get("value")
        if pref.get("category") != "marketing_messages" or not isinstance(wa_id, str):
            self._unknown("preference of another category")
            return
        if choice not in ("stop", "resume"):
            self._unknown("preference value")
            return
        raw = f"{wa_id}\x00{choice}\x00{pref.get('timestamp')}"
        key = "pref:" + hashlib.sha256(raw.encode()).hexdigest()
        if not self._first_time(key, "preference", choice):
            self.outcome.add("replayed")
            return
        lang = self._default_lang()
        if choice == "stop":
            self._opt_out(
                wa_id, marketing_purposes(self.policy), lang, "button", "stop", reply_key=None
            )
        else:
            self._opt_in(wa_id, lang, "button", "resume")

    # --- actions -------------------------------------------------------------------------------

    def _default_lang(self) -> str:
        return str(self.policy.languages[0].value) if self.policy.languages else "id"

    def _proof(self, purpose: Purpose, lang: str, method: str, said: str) -> consent.Proof:
        # The evidence is what the person agreed to (or left): the purpose as the notice states
        # it, and the words they sent (a keyword, never free text, or we would not be here).
        statement = f"{purpose.name.get(lang)}: {purpose.description.get(lang)}"
        return consent.Proof(
            policy_version=self.version,
            text=f"{statement}\n[WhatsApp: {said.strip()[:40]}]",
            language=lang,
            channel="whatsapp",
            method=method,
            source="whatsapp-webhook",
            user_agent=None,
            client_addr=None,
        )

    def _opt_out(
        self,
        wa_id: str,
        purposes: list[Purpose],
        lang: str,
        method: str,
        said: str,
        *,
        reply_key: str | None,
    ) -> None:
        subject = subjects.find_by_identifier(self.session, "whatsapp", wa_id)
        withdrawn: list[Purpose] = []
        if subject is not None:
            decisions = {
                d.purpose: d
                for p in purposes
                for d in consent.check(self.session, [subject.id], p.id)
            }
            for purpose in purposes:
                decision = decisions.get(purpose.id)
                if decision is None or decision.reason in NOTHING_TO_WITHDRAW:
                    continue
                consent.withdraw(
                    self.session,
                    self.principal,
                    subject,
                    purpose.id,
                    self._proof(purpose, lang, method, said),
                )
                withdrawn.append(purpose)
        self.outcome.add("opted_out" if withdrawn else "already_out")
        if reply_key is None or not purposes:
            return
        # The person gets an answer even when nothing was on record: they asked, and a silent
        # number looks like the request was lost.
        shown = withdrawn or purposes
        notify.enqueue(
            self.session,
            channel="whatsapp",
            template="unsubscribed",
            lang=lang,
            params={
                "purpose_name": ", ".join(p.name.get(lang) for p in shown),
                "consequences": " ".join(
                    c
                    for p in shown
                    if (c := consent.withdrawal_consequences(self.policy, p.id, lang))
                ),
                "resume_keyword": RESUME_KEYWORD[lang]
                if any(p.keyword_opt_in for p in shown)
                else "",
            },
            subject_id=subject.id if subject is not None else None,
            to=wa_id,
            dedupe_key=f"wa-optout:{reply_key}",
        )

    def _opt_in(self, wa_id: str, lang: str, method: str, said: str) -> None:
        allowed = [p for p in marketing_purposes(self.policy) if p.keyword_opt_in]
        if not allowed:
            # The policy asks for consent another way (a form with the full text): a keyword
            # cannot give it, whatever the person meant.
            self.outcome.add("opt_in_not_allowed")
            return
        subject = subjects.find_or_create(
            self.session, self.principal, {"whatsapp": wa_id}, kind=self._whatsapp_kind(allowed)
        )
        granted = 0
        for purpose in allowed:
            decision = consent.check(self.session, [subject.id], purpose.id)[0]
            if decision.allowed and decision.reason == "consent":
                continue
            consent.grant(
                self.session,
                self.principal,
                subject,
                purpose.id,
                self._proof(purpose, lang, method, said),
            )
            granted += 1
        self.outcome.add("opted_in" if granted else "already_in")

    def _whatsapp_kind(self, purposes: list[Purpose]) -> str | None:
        kinds = [k for p in purposes for k in p.subjects]
        return kinds[0] if kinds else None

    def _number_changed(self, old: str, new: str) -> None:
        subject = subjects.find_by_identifier(self.session, "whatsapp", old)
        if subject is None:
            self.outcome.add("number_change_unknown")
            return
        subjects.add_identifiers(self.session, self.principal, subject, {"whatsapp": new})
        self.outcome.add("number_changed")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
