"""``privasi connectors test`` for an http system: is the endpoint reachable, does it accept our
signature, and what would an access request read there?

privasi POSTs a signed ``{"action": "test", "dry_run": true, ...}`` operation (the same envelope
as ``connectors.http.operation``) and the endpoint answers ``{"status": "done", "counts":
{category: n}}`` without changing anything. Only counts are shown, never a value.
"""

from __future__ import annotations

import json
from typing import Any

from privasi.connectors import http as connector
from privasi.connectors.check import Report, TableReport, _check
from privasi.db import PrivasiSession, new_id
from privasi.errors import NotFound
from privasi.policy.systems import System
from privasi.vault.secrets import get_secret


def probe_operation(
    session: PrivasiSession, system: System, identifiers: dict[str, list[str]] | None
) -> dict[str, Any]:
    return {
        "version": connector.PROTOCOL_VERSION,
        "id": f"test-{new_id()}",
        "action": "test",
        "dry_run": True,
        "subject": {"identifiers": identifiers or {}},
        "categories": system.all_categories(),
        "callback_url": connector.callback_url(session, system.id),
    }


def run_check(
    session: PrivasiSession, system: System, identifiers: dict[str, list[str]] | None = None
) -> Report:
    """The report of one http system; ``ok`` is False when something needs fixing."""
    report = Report(system=system.id, ok=True)
    if not _check(report, "base_url", system.base_url is not None, str(system.base_url or "-")):
        return report
    try:
        secret = get_secret(session, system.credential or "")
    except NotFound:
        _check(report, "credential", False, f"no secret named '{system.credential}' is stored")
        return report
    _check(report, "credential", True, f"'{system.credential}' is stored")
    op = probe_operation(session, system, identifiers)
    body = json.dumps(op, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        answer = connector.call(
            "POST",
            str(system.base_url),
            system.id,
            content=body,
            headers=connector.signed_headers(secret, body, op["id"]),
        )
    except connector.ConnectorError as exc:
        hint = " (the endpoint refused our signature)" if str(exc).endswith(" 401") else ""
        _check(report, "endpoint", False, f"{exc}{hint}")
        return report
    _check(report, "endpoint", True, "reachable; the signed test operation was accepted")
    counts = answer.get("counts")
    if identifiers is None:
        return report
    if not isinstance(counts, dict) or not all(
        isinstance(n, int) and n >= 0 for n in counts.values()
    ):
        _check(report, "counts", False, "the answer has no counts {category: number}")
        return report
    undeclared = sorted(set(counts) - set(system.all_categories()))
    _check(
        report,
        "categories",
        not undeclared,
        f"not in the policy: {', '.join(undeclared)}" if undeclared else "all declared",
    )
    report.tables.append(
        TableReport(
            name="(endpoint)",
            match=", ".join(sorted(identifiers)),
            rows=sum(counts.values()),
            categories={str(k): int(v) for k, v in counts.items()},
            erasure="by the endpoint",
        )
    )
    return report
