"""Processor mode: an end user's request that reached the processor goes to the Business User
that controls the data (UU PDP Pasal 51; seeds 002 and 004), with its original receipt time.

The processor needs an active hosting grant from that Business User that includes
``requests.manage``. The new request is recorded in the controller's organisation; the
processor's own request is closed with a pointer to it, so both sides can show what happened.
"""

from __future__ import annotations

from typing import Any

from privasi.db import Database
from privasi.errors import Forbidden, InvalidTransition, NotFound
from privasi.orgs import service as orgs
from privasi.orgs.service import Principal
from privasi.rights import lifecycle
from privasi.rights import service as rights
from privasi.subjects import service as subjects

NEEDED = "requests.manage"


def _controller_principal(db: Database, principal: Principal, controller_slug: str) -> Principal:
    with db.session(system=True) as system:
        target = orgs.find_org_by_slug(system, controller_slug)
        if target is None or target.id == principal.org_id:
            raise NotFound("organisation not found")
        grant = orgs.active_grant(system, principal.org_id, target.id)
        if grant is None:
            raise NotFound("organisation not found")
        if NEEDED not in grant.actions:
            raise Forbidden(f"the hosting grant of {controller_slug} does not include '{NEEDED}'")
        return Principal(
            org_id=target.id,
            actor_type=principal.actor_type,
            actor_id=principal.actor_id,
            permissions=principal.permissions & frozenset(grant.actions),
            home_org_id=principal.home_org_id,
            grant_id=grant.id,
            request_id=principal.request_id,
            client_addr=principal.client_addr,
        )


def route(
    db: Database, principal: Principal, request_id: str, controller_slug: str
) -> dict[str, Any]:
    """Record the request in the controller's organisation and close it here."""
    principal.require(NEEDED)
    as_controller = _controller_principal(db, principal, controller_slug)
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        if request.status not in ("received", "verifying", "awaiting_requester"):
            raise InvalidTransition(f"{rights.display_number(request)} is {request.status}")
        details = rights.details_of(session, request)
        identifiers = details.pop("identifiers", None) or {}
        if request.subject_id is not None:
            held = subjects.identifiers(session, subjects.get_subject(session, request.subject_id))
            identifiers = {kind: values[-1] for kind, values in held.items() if values}
        details.pop("requester_note", None)
        type_, channel, lang = request.type, request.channel, request.lang
        received_at = request.received_at
        number = rights.display_number(request)
    with db.session(as_controller.org_id) as controller:
        routed = rights.submit(
            controller,
            as_controller,
            type=type_,
            channel=channel,
            identifiers=identifiers or None,
            requester_kind="subject",
            details=details or None,
            lang=lang,
            received_at=received_at,
        )
        rights.audit_step(
            controller,
            as_controller,
            routed,
            "request.routed_in",
            from_org=principal.org_id,
            from_number=number,
        )
        routed_number = rights.display_number(routed)
        routed_id = routed.id
    with db.session(principal.org_id) as session:
        request = rights.get_request(session, request_id)
        lifecycle.close_as_routed(session, principal, request, controller_slug, routed_number)
    return {"org": controller_slug, "id": routed_id, "number": routed_number}
