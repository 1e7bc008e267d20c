"""Conversations: the placeholder mapping of one chat, sealed with the vault, bound to its key.

The id a client holds (``pvc_...``) is a bearer capability within its API key: only its SHA-256 is
stored, and a conversation opened under another key or organisation is simply unknown.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from privasi.audit import service as audit
from privasi.db import PrivasiSession, new_id, utcnow
from privasi.errors import NotFound
from privasi.gateway.models import GatewayChatLog, GatewayConversation
from privasi.gateway.placeholders import ConversationMapping
from privasi.gateway.service import Terms
from privasi.orgs.principal import Principal
from privasi.vault.core import Vault, vault_for

CONVERSATION_PREFIX = "pvc_"
CONVERSATIONS = cast(Table, GatewayConversation.__table__)


@dataclass
class Conversation:
    row: GatewayConversation | None  # None until first saved
    token: str
    digest: str
    mapping: ConversationMapping
    derived: bool
    version: int = 0  # the row's version when its mapping was read, for the compare-and-set


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aad(row_id: str) -> str:
    return f"gateway-conversation:{row_id}"


def derived_token(secret: bytes, org_id: str, api_key_id: str, user: str) -> str:
    """The conversation of one end user (OpenAI's ``user`` field) under one key: an HMAC, so it
    cannot be guessed from the user id and differs between keys and organisations."""
    mac = hmac.new(secret, f"{org_id}\x00{api_key_id}\x00{user}".encode(), hashlib.sha256)
    return "pvu_" + mac.hexdigest()[:40]


def open_conversation(
    session: PrivasiSession,
    api_key_id: str,
    *,
    token: str | None,
    derived: str | None,
    vault: Vault | None = None,
) -> Conversation:
    """The conversation a call belongs to: the one whose id the client sent back, the one derived
    from its end-user id, or a new one. Another key's or organisation's conversation is unknown."""
    org_id = session.require_org()
    now = utcnow()
    wanted = token or derived
    if wanted is not None:
        digest = _digest(wanted)
        row = session.scalar(
            select(GatewayConversation).where(GatewayConversation.token_digest == digest)
        )
        usable = (
            row is not None
            and hmac.compare_digest(row.api_key_id, api_key_id)
            and row.expires_at > now
        )
        if usable and row is not None:
            vault = vault or vault_for(session)
            plain = vault.open_for_org(org_id, "secrets", row.mapping_sealed, _aad(row.id))
            mapping = ConversationMapping.from_json(plain)
            return Conversation(row, wanted, digest, mapping, token is None, row.version)
        if token is not None:
            raise NotFound("this conversation is unknown or has expired; start a new one")
        if row is not None:
            # an expired derived conversation the worker has not purged yet starts afresh
            session.delete(row)
            session.flush()
        return Conversation(None, wanted, digest, ConversationMapping(), derived=True)
    fresh = CONVERSATION_PREFIX + secrets.token_urlsafe(24)
    return Conversation(None, fresh, _digest(fresh), ConversationMapping(), derived=False)


def save_mapping(
    session: PrivasiSession,
    conversation: Conversation,
    *,
    api_key_id: str,
    terms: Terms,
    vault: Vault | None = None,
) -> bool:
    """Store the mapping sealed; False when another call of the same conversation saved first."""
    org_id = session.require_org()
    vault = vault or vault_for(session)
    now = utcnow()
    row = conversation.row
    if row is None:
        # a UUID: the audit trail records this id, and its checks know UUIDs are not personal
        row_id = new_id()
        values = {
            "id": row_id,
            "token_digest": conversation.digest,
            "api_key_id": api_key_id,
            "recipient_id": terms.recipient.id,
            "mapping_sealed": vault.seal_for_org(
                org_id, "secrets", conversation.mapping.to_json(), _aad(row_id)
            ),
            "version": 1,
            "created_at": now,
            "last_used_at": now,
            "expires_at": now + terms.retention,
        }
        if conversation.derived:
            try:
                with session.begin_nested():
                    session.execute(insert(CONVERSATIONS), [values])
            except IntegrityError:
                # the same derived conversation was created by a simultaneous call: use theirs
                return False
        else:
            # a fresh id is 24 random bytes, so no other call can be creating it: no savepoint
            session.execute(insert(CONVERSATIONS), [values])
        conversation.row = GatewayConversation(**values)  # detached: carries the id onwards
        conversation.version = 1
        return True
    sealed = vault.seal_for_org(org_id, "secrets", conversation.mapping.to_json(), _aad(row.id))
    result = session.execute(
        update(GatewayConversation)
        .where(
            GatewayConversation.id == row.id,
            GatewayConversation.version == conversation.version,
        )
        .values(mapping_sealed=sealed, version=conversation.version + 1),
        execution_options={"synchronize_session": False},
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    conversation.version += 1
    return True


def discard(session: PrivasiSession, conversation: Conversation) -> None:
    """Delete a conversation a failed call created: its id never reached the client, so nobody
    could continue it, and its sealed mapping would only wait for retention."""
    if conversation.row is None:
        return
    session.execute(
        delete(GatewayConversation).where(GatewayConversation.id == conversation.row.id),
        execution_options={"synchronize_session": False},
    )
    conversation.row = None
    conversation.version = 0


def end_conversation(
    session: PrivasiSession, principal: Principal, token: str, *, vault: Vault | None = None
) -> bool:
    """Destroy a conversation's mapping and its chat logs before retention ends (the chat was
    cleared, or its person asked for erasure). Only the key that holds the conversation can end
    it; False when there is nothing of that key's to end."""
    row = session.scalar(
        select(GatewayConversation).where(GatewayConversation.token_digest == _digest(token))
    )
    if row is None or not hmac.compare_digest(row.api_key_id, principal.actor_id):
        return False
    session.execute(
        delete(GatewayChatLog).where(GatewayChatLog.conversation_id == row.id),
        execution_options={"synchronize_session": False},
    )
    session.delete(row)
    session.flush()
    audit.record(
        session,
        principal,
        "gateway.conversation_ended",
        details={"conversation": row.id},
        vault=vault,
    )
    return True
