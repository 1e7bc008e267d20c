"""The ``http`` connector: a signed JSON POST to the business's endpoint for access, erasure and
rectification; the result comes back in the answer, by callback or by polling a status URL.

Protocol (the business implements the receiving side):

* privasi POSTs ``operation(...)`` to the system's ``base_url``, signed like outgoing webhooks
  (``notify/signing.py``) under the secret the system's ``credential`` names. ``id`` is the task
  id, stable across retries: the endpoint treats it as an idempotency key.
* The endpoint answers ``200 {"status": "done", ...}`` (finished), or ``202 {"status":
  "accepted", "status_url": ...}`` (privasi GETs the status URL, signed over an empty body, until
  it says done), or 202 without a status URL (the endpoint POSTs the result to the callback URL).
* A result is ``{"id", "status": "done"|"failed", "records": [{category, field, value}],
  "kept": [{categories, reason}], "error": "<code>"}``.

Waiting is resumable: what was sent and where to poll is committed before the executor raises
``AwaitingResult``, so the ``rights.execute`` job retries with backoff and carries on from there.
Nothing personal is logged or kept in plain text: records are sealed with the subject's key.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from privasi.db import PrivasiSession
from privasi.jobs import service as jobs
from privasi.notify import signing
from privasi.policy import service as policies
from privasi.policy.systems import System
from privasi.rights import execution, export
from privasi.rights import service as rights
from privasi.rights.models import OPEN_STATUSES, RequestTask, RightsRequest
from privasi.subjects import service as subjects
from privasi.vault.secrets import get_secret
from privasi.worker import reconciler

PROTOCOL_VERSION = 1
TIMEOUT = 10.0
USER_AGENT = "privasi-connector/1"
CALLBACK_PATH = "/integrations/connectors/{org_slug}/{system_id}/callback"
MAX_RECORDS = 50_000
POLL_EVERY = 900  # seconds between polls once the job's quick retries are spent
_CODE = re.compile(r"[^a-z0-9_.-]")


class ConnectorError(RuntimeError):
    """The endpoint could not be reached or answered badly; the job retries. Messages name the
    system and the HTTP status or error code only, never a value."""


class AwaitingResult(execution.TaskWaiting):
    """Sent and accepted; the result comes later (callback or poll). The job retries."""


def _state(task: RequestTask) -> dict[str, Any]:
    return dict((task.result or {}).get("http") or {})


def _save(session: PrivasiSession, task: RequestTask, **changes: Any) -> None:
    task.result = {**(task.result or {}), "http": {**_state(task), **changes}}
    session.flush()


def _code(value: Any) -> str:
    """An endpoint's error code, reduced to a short token so no free text is kept or logged."""
    return _CODE.sub("", str(value or "error").lower())[:40] or "error"


def system_of(session: PrivasiSession, system_id: str) -> System:
    policy = policies.current_policy(session)
    for system in policy.systems:
        if system.id == system_id and system.kind.value == "http":
            return system
    raise ConnectorError(f"system {system_id} is not an http system of the current policy")


def _public_url(session: PrivasiSession) -> str:
    from privasi.config import Settings
    from privasi.vault.service import vault_for

    settings = getattr(vault_for(session), "_settings", None)
    return (settings if isinstance(settings, Settings) else Settings()).public_url


def callback_url(session: PrivasiSession, system_id: str) -> str:
    from privasi.orgs import service as orgs

    slug = orgs.get_org(session, session.require_org()).slug
    return _public_url(session) + CALLBACK_PATH.format(org_slug=slug, system_id=system_id)


def operation(
    session: PrivasiSession, request: RightsRequest, task: RequestTask, system: System
) -> dict[str, Any]:
    """What the endpoint is asked to do, with what it needs to find the person."""
    held: dict[str, list[str]] = {}
    if request.subject_id is not None:
        held = subjects.identifiers_of(session, request.subject_id)
    body: dict[str, Any] = {
        "version": PROTOCOL_VERSION,
        "id": task.id,
        "action": task.action,
        "request": {
            "number": rights.display_number(request),
            "type": request.type,
            "due_at": int(request.due_at.timestamp()),
        },
        "subject": {"identifiers": held},
        "categories": system.all_categories(),
        "callback_url": callback_url(session, system.id),
    }
    if task.action == "erase":
        body["keep"] = (task.result or {}).get("keep", [])
    if task.action == "rectify":
        body["changes"] = rights.details_of(session, request).get("changes", {})
    return body


def signed_headers(secret: str, body: bytes, message_id: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.MESSAGE_ID_HEADER: message_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
    }


def _answer(system_id: str, response: httpx.Response) -> dict[str, Any]:
    if not 200 <= response.status_code < 300:
        raise ConnectorError(f"{system_id}: http {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ConnectorError(f"{system_id}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ConnectorError(f"{system_id}: the answer is not a JSON object")
    return data


def call(method: str, url: str, system_id: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = httpx.request(method, url, timeout=TIMEOUT, follow_redirects=False, **kwargs)
    except httpx.HTTPError as exc:
        raise ConnectorError(f"{system_id}: {type(exc).__name__}") from None
    return _answer(system_id, response)


def _same_origin(base_url: str, url: str) -> bool:
    # A status URL elsewhere would make privasi send signed requests wherever an answer says.
    a, b = urlsplit(base_url), urlsplit(url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def apply_result(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    result: dict[str, Any],
) -> bool:
    """Take in a finished result (from the answer, a poll or a callback); True when done.
    Applying it twice changes nothing."""
    if _state(task).get("state") == "received":
        return True
    status = result.get("status")
    if status in ("pending", "accepted", "running"):
        return False
    if status == "failed":
        _save(session, task, state="failed", error=_code(result.get("error")))
        return False
    if status != "done":
        raise ConnectorError(f"{system.id}: unknown result status")
    if task.action == "access":
        records = result.get("records") or []
        if not isinstance(records, list) or len(records) > MAX_RECORDS:
            raise ConnectorError(f"{system.id}: records must be a list")
        declared = set(system.all_categories())
        if any(not isinstance(r, dict) or r.get("category") not in declared for r in records):
            raise ConnectorError(f"{system.id}: a record has a category the policy does not list")
        export.attach_records(session, request, task, records)
    if task.action == "erase":
        kept = result.get("kept")
        if not isinstance(kept, list):
            kept = (task.result or {}).get("keep", [])
        task.result = {**(task.result or {}), "kept": kept}
    _save(session, task, state="received", received_at=int(time.time()), error=None)
    return True


def _send(
    session: PrivasiSession, request: RightsRequest, task: RequestTask, system: System
) -> dict[str, Any]:
    secret = get_secret(session, system.credential or "")
    body = json.dumps(
        operation(session, request, task, system), ensure_ascii=False, separators=(",", ":")
    ).encode()
    _save(session, task, state="sending", attempts=_state(task).get("attempts", 0) + 1)
    return _unlocked(
        session,
        lambda: call(
            "POST",
            str(system.base_url),
            system.id,
            content=body,
            headers=signed_headers(secret, body, task.id),
        ),
    )


def _poll(session: PrivasiSession, task: RequestTask, system: System) -> dict[str, Any]:
    secret = get_secret(session, system.credential or "")
    url = str(_state(task)["status_url"])
    _save(session, task, polls=_state(task).get("polls", 0) + 1, polled_at=int(time.time()))
    headers = signed_headers(secret, b"", task.id)
    return _unlocked(session, lambda: call("GET", url, system.id, headers=headers))


def _unlocked(session: PrivasiSession, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Make the call with no transaction open: an endpoint may call back before it answers, and
    the callback must not wait on this task's lock (or SQLite's write lock) until a timeout.
    Two workers may then both send; the task id is the endpoint's idempotency key."""
    session.commit()
    return send()


def _commit_and_raise(session: PrivasiSession, task: RequestTask, exc: Exception) -> None:
    # The job's retry starts from here: what was sent and where to poll must outlive the rollback.
    _save(session, task, last_error=str(exc)[:200] if isinstance(exc, ConnectorError) else None)
    session.commit()
    raise exc


def _relock(session: PrivasiSession, task: RequestTask) -> str | None:
    # populate_existing refreshes ``task`` itself, which the caller still holds.
    execution.lock_task(session, task.id)
    return _state(task).get("state")


@execution.executor("http")
def run(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    """One step of an http task: send (once accepted, never again), poll, or take the result."""
    system = system_of(session, task.system_id)
    if system.base_url is None:
        raise ConnectorError(f"{system.id}: the policy gives no base_url")
    state = _state(task)
    if state.get("state") == "received":
        return
    try:
        if state.get("state") == "accepted" and state.get("status_url"):
            answer = _poll(session, task, system)
        elif state.get("state") == "accepted":
            _commit_and_raise(session, task, AwaitingResult(f"{system.id}: awaiting callback"))
            return
        else:
            answer = _send(session, request, task, system)
            status_url = answer.get("status_url")
            if status_url is not None and not (
                isinstance(status_url, str) and _same_origin(str(system.base_url), status_url)
            ):
                raise ConnectorError(f"{system.id}: status_url is not on the endpoint's host")
            if _relock(session, task) == "received":
                return
            _save(session, task, state="accepted", accepted_at=int(time.time()))
            if status_url:
                _save(session, task, status_url=status_url)
    except ConnectorError as exc:
        if _relock(session, task) != "received":
            _commit_and_raise(session, task, exc)
        return
    if _relock(session, task) == "received":
        return  # the callback came in while the endpoint was answering
    if apply_result(session, request, task, system, answer):
        return
    if _state(task).get("state") == "failed":
        # The endpoint gave up; the next attempt asks it again from the start.
        _save(session, task, state="new")
        _commit_and_raise(session, task, ConnectorError(f"{system.id}: the endpoint failed"))
    _commit_and_raise(session, task, AwaitingResult(f"{system.id}: awaiting the result"))


def take_callback(
    session: PrivasiSession, system_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A signed callback's result (the signature is checked by the route). Idempotent: a second
    delivery of a result already taken in changes nothing. Queues the task to finish."""
    task_id = payload.get("id")
    if not isinstance(task_id, str):
        raise ConnectorError("callback without an id")
    found = session.get(RequestTask, task_id)
    if found is None or found.system_id != system_id or found.kind != "http":
        raise LookupError("no such task")
    task = execution.lock_task(session, task_id)
    request = rights.get_request(session, task.request_id)
    if task.status in ("done", "skipped") or _state(task).get("state") == "received":
        return {"received": True, "task": task.id, "status": task.status}
    system = system_of(session, system_id)
    finished = apply_result(session, request, task, system, payload)
    _save(session, task, callback_at=int(time.time()))
    if finished:
        execution.schedule(session, request, stage=f"callback:{task.id}")
    elif _state(task).get("state") == "failed":
        # The endpoint gave up: staff see it and retry the request, which asks again.
        task.status = "failed"
        _save(session, task, state="new")
        return {"received": True, "task": task.id, "status": "failed"}
    return {"received": True, "task": task.id, "status": _state(task).get("state")}


@reconciler("http-polls")
def _keep_polling(system: PrivasiSession) -> int:
    """Polling outlives the job's few quick retries: an accepted task whose job gave up is
    polled again every ``POLL_EVERY`` seconds while its request is open."""
    now = int(time.time())
    queued = 0
    waiting = system.execute(
        select(RequestTask.id, RequestTask.org_id, RequestTask.request_id, RequestTask.result)
        .join(RightsRequest, RightsRequest.id == RequestTask.request_id)
        .where(
            RequestTask.kind == "http",
            RequestTask.status.in_(("waiting", "failed")),
            RightsRequest.status.in_(OPEN_STATUSES),
        )
    )
    for _task_id, org_id, request_id, result in waiting:
        state = (result or {}).get("http") or {}
        if state.get("state") != "accepted" or not state.get("status_url"):
            continue
        if now - int(state.get("polled_at") or state.get("accepted_at") or 0) < POLL_EVERY:
            continue
        jobs.enqueue(
            system,
            execution.EXECUTE_KIND,
            {"request_id": request_id},
            org_id=org_id,
            dedupe_key=f"{execution.EXECUTE_KIND}:{request_id}:poll:{now // POLL_EVERY}",
        )
        queued += 1
    return queued


def task_status(task: RequestTask) -> dict[str, Any]:
    """What staff see of an http task: where it stands, never a value."""
    state = _state(task)
    return {
        key: state[key]
        for key in ("state", "attempts", "polls", "error", "last_error", "received_at")
        if state.get(key) is not None
    }
