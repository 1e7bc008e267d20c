"""Tenant isolation across every route of the app.

The matrix below names every mounted route. A route added without an entry fails
``test_every_route_is_in_the_matrix``, so isolation is decided for each route when it is written.
For each resource route, a key of organisation B asks for organisation A's resource and must get 404;
for each list route, nothing of A may appear in B's answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from fastapi.routing import APIRoute

from privasi.orgs import service as orgs
from privasi.policy import service as policies
from privasi.vault import service as secrets

MINIMAL = Path(__file__).parent / "data" / "policies" / "minimal.yaml"


@dataclass
class Case:
    kind: str  # public | web | list | resource | own
    resource: str | None = None  # which of A's objects fills the path parameter
    body: dict | None = None
    notes: str = ""
    params: dict = field(default_factory=dict)
    path_value: str | None = None  # fills the path parameter of an "own" route


MATRIX: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case("public"),
    ("GET", "/openapi.json"): Case("public"),
    ("GET", "/docs"): Case("public"),
    ("GET", "/docs/oauth2-redirect"): Case("public"),
    ("GET", "/privacy/{org_slug}"): Case("public", notes="the published notice, meant for anyone"),
    ("GET", "/privacy/{org_slug}/versions/{number}"): Case(
        "public", notes="published versions only"
    ),
    ("GET", "/readyz"): Case("public"),
    ("GET", "/metrics"): Case("public", notes="route templates and counts only"),
    ("GET", "/api/v1/org"): Case("list"),
    ("PATCH", "/api/v1/org"): Case("own", body={"name": "B renamed"}),
    ("GET", "/api/v1/orgs/hosted"): Case("list"),
    ("GET", "/api/v1/staff"): Case("list"),
    ("POST", "/api/v1/staff"): Case("own", body={"email": "new@b.example", "role": "agent"}),
    ("GET", "/api/v1/staff/{user_id}"): Case("resource", "staff"),
    ("PATCH", "/api/v1/staff/{user_id}"): Case("resource", "staff", body={"name": "x"}),
    ("POST", "/api/v1/staff/{user_id}/reset-password"): Case("resource", "staff"),
    ("GET", "/api/v1/api-keys"): Case("list"),
    ("POST", "/api/v1/api-keys"): Case("own", body={"name": "b", "scopes": ["org.read"]}),
    ("GET", "/api/v1/api-keys/{key_id}"): Case("resource", "api_key"),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Case("resource", "api_key"),
    ("GET", "/api/v1/hosting-grants"): Case("list"),
    ("POST", "/api/v1/hosting-grants"): Case(
        "own",
        body={"processor_slug": "proc", "actions": ["org.read"], "instructions": "B's rules"},
    ),
    ("GET", "/api/v1/hosting-grants/{grant_id}"): Case("resource", "grant"),
    ("POST", "/api/v1/policies"): Case("own", body={"source": "B_POLICY"}),
    ("GET", "/api/v1/policies"): Case("list"),
    ("GET", "/api/v1/policies/current"): Case("list"),
    ("GET", "/api/v1/policies/{version_id}"): Case("resource", "policy"),
    ("POST", "/api/v1/policies/{version_id}/publish"): Case("resource", "policy", body={}),
    ("GET", "/api/v1/policies/{version_id}/diff"): Case(
        "resource", "policy", params={"against": "1"}
    ),
    ("GET", "/api/v1/policies/{version_id}/notice"): Case("resource", "policy"),
    ("GET", "/api/v1/policies/{version_id}/ropa"): Case("resource", "policy"),
    ("GET", "/api/v1/audit"): Case("list"),
    ("GET", "/api/v1/secrets"): Case("list"),
    ("PUT", "/api/v1/secrets/{name}"): Case("own", body={"value": "b-value"}, path_value="b_db"),
    ("DELETE", "/api/v1/secrets/{name}"): Case("resource", "secret"),
    ("DELETE", "/api/v1/hosting-grants/{grant_id}"): Case("resource", "grant"),
    ("GET", "/integrations/whatsapp/{org_slug}"): Case(
        "public", notes="Meta's handshake: echoes the challenge only for the org's verify token"
    ),
    ("POST", "/integrations/whatsapp/{org_slug}"): Case(
        "public", notes="signed by Meta with the org's app secret; nothing read before the check"
    ),
    ("GET", "/consent/{org_slug}/unsubscribe/{token}"): Case(
        "public", notes="the signed link, bound to its organisation, is the capability"
    ),
    ("POST", "/consent/{org_slug}/unsubscribe/{token}"): Case(
        "public", notes="RFC 8058 one-click: the signed, expiring link is the proof"
    ),
    ("POST", "/api/v1/subjects/{subject_id}/unsubscribe-link"): Case(
        "resource", "subject", body={"purpose": "newsletter"}
    ),
    ("GET", "/consent/{org_slug}/banner.js"): Case(
        "public", notes="the cookie banner for the org's website: built from the published policy"
    ),
    ("POST", "/consent/{org_slug}/choice"): Case(
        "public", notes="a visitor's cookie choice under a random visitor id; answers with it only"
    ),
    ("GET", "/.well-known/gpc.json"): Case("public", notes="a fixed GPC declaration"),
    ("GET", "/privacy/{org_slug}/consent"): Case(
        "public", notes="privacy center: shows consents only after a code sent to the subject"
    ),
    ("POST", "/privacy/{org_slug}/consent/start"): Case(
        "public", notes="sends a code; the same answer whether or not the address is on record"
    ),
    ("POST", "/privacy/{org_slug}/consent/verify"): Case(
        "public", notes="checks a code of this organisation's challenge; 5 attempts"
    ),
    ("GET", "/privacy/{org_slug}/consent/withdraw/{purpose_id}"): Case(
        "public", notes="needs the verified cookie signed for this organisation"
    ),
    ("POST", "/privacy/{org_slug}/consent/withdraw/{purpose_id}"): Case(
        "public", notes="verified cookie of this organisation and a CSRF token"
    ),
    ("POST", "/privacy/{org_slug}/consent/grant/{purpose_id}"): Case(
        "public", notes="verified cookie of this organisation and a CSRF token"
    ),
    ("POST", "/privacy/{org_slug}/consent/end"): Case("public", notes="clears the cookie only"),
    ("POST", "/api/v1/subjects"): Case(
        "own", body={"identifiers": {"email": "b-person@b.example"}}
    ),
    ("GET", "/api/v1/subjects"): Case("list"),
    ("POST", "/api/v1/subjects/lookup"): Case(
        "list",
        body={"kind": "email", "value": "hidden-subject@a.example"},
        notes="B looks for A's subject by its e-mail and must find nothing",
    ),
    ("GET", "/api/v1/subjects/{subject_id}"): Case("resource", "subject"),
    ("POST", "/api/v1/subjects/{subject_id}/identifiers"): Case(
        "resource", "subject", body={"identifiers": {"external": "b-ext-1"}}
    ),
    ("PUT", "/api/v1/subjects/{subject_id}/age"): Case(
        "resource", "subject", body={"declared_age": 30}
    ),
    ("POST", "/api/v1/subjects/{subject_id}/guardians"): Case(
        "resource", "subject", body={"guardian_id": "b-guardian", "relationship": "parent"}
    ),
    ("DELETE", "/api/v1/subjects/{subject_id}/guardians/{guardian_id}"): Case(
        "resource", "subject"
    ),
    ("PUT", "/api/v1/subjects/{subject_id}/restriction"): Case(
        "resource", "subject", body={"restricted": True}
    ),
    ("POST", "/api/v1/subjects/{subject_id}/objections"): Case(
        "resource", "subject", body={"purpose": "*"}
    ),
    ("DELETE", "/api/v1/subjects/{subject_id}/objections/{purpose}"): Case("resource", "subject"),
    ("GET", "/api/v1/subjects/{subject_id}/consents"): Case("resource", "subject"),
    ("POST", "/api/v1/subjects/{subject_id}/merge"): Case(
        "resource", "subject", body={"other_id": "b-other-record"}
    ),
    ("POST", "/api/v1/consent/events"): Case(
        "own",
        body={
            "identifiers": {"email": "b-person@b.example"},
            "purpose": "newsletter",
            "action": "granted",
            "proof": {
                "text": "Ya, kirimi saya buletin.",
                "language": "id",
                "channel": "web",
                "method": "checkbox",
            },
        },
    ),
    ("POST", "/api/v1/consent/events/batch"): Case(
        "own",
        body={
            "subject_ids": ["b-unknown-subject"],
            "purpose": "newsletter",
            "action": "withdrawn",
            "proof": {
                "text": "Ya, kirimi saya buletin.",
                "language": "id",
                "channel": "web",
                "method": "checkbox",
            },
        },
        notes="ids of other organisations are skipped as unknown (tests/consent/test_api.py)",
    ),
    ("GET", "/api/v1/consent/events/{event_id}"): Case("resource", "consent_event"),
    ("GET", "/api/v1/consent/check"): Case(
        "list", params={"subject_id": "b-unknown-subject", "purpose": "newsletter"}
    ),
    ("POST", "/api/v1/consent/check"): Case(
        "list",
        body={
            "purpose": "newsletter",
            "identifiers": [{"kind": "email", "value": "hidden-subject@a.example"}],
        },
        notes="A's subject named by identifier is unknown to B",
    ),
    ("GET", "/api/v1/consent/purposes"): Case("list"),
    ("GET", "/api/v1/consent/events"): Case("list"),
    ("GET", "/api/v1/consent/summary"): Case("list"),
    ("GET", "/api/v1/outbox"): Case("list"),
    ("GET", "/api/v1/outbox/{message_id}"): Case("resource", "outbox_message"),
    ("POST", "/api/v1/outbox/{message_id}/retry"): Case("resource", "outbox_message"),
    ("POST", "/api/v1/outbox/{message_id}/cancel"): Case("resource", "outbox_message"),
    ("POST", "/api/v1/requests"): Case(
        "own", body={"type": "access", "identifiers": {"email": "nobody@b.example"}}
    ),
    ("GET", "/api/v1/requests"): Case("list"),
    ("POST", "/api/v1/requests/suppression-check"): Case(
        "own", body={"kind": "email", "value": "hidden-subject@a.example"}
    ),
    ("GET", "/api/v1/requests/{request_id}"): Case("resource", "rights_request"),
    ("GET", "/api/v1/requests/{request_id}/evidence"): Case("resource", "rights_request"),
    ("POST", "/api/v1/requests/{request_id}/verification/code"): Case(
        "resource", "rights_request", body={}
    ),
    ("POST", "/api/v1/requests/{request_id}/verification/code/check"): Case(
        "resource", "rights_request", body={"code": "123456"}
    ),
    ("POST", "/api/v1/requests/{request_id}/verification/token"): Case(
        "resource", "rights_request", body={"token": "e30.c2ln"}
    ),
    ("POST", "/api/v1/requests/{request_id}/verification/staff"): Case(
        "resource", "rights_request", body={"note": "KTP checked"}
    ),
    ("POST", "/api/v1/requests/{request_id}/match"): Case(
        "resource", "rights_request", body={"subject_id": "00000000-0000-0000-0000-000000000000"}
    ),
    ("POST", "/api/v1/requests/{request_id}/assign"): Case("resource", "rights_request", body={}),
    ("POST", "/api/v1/requests/{request_id}/await-requester"): Case(
        "resource", "rights_request", body={"note": "send proof"}
    ),
    ("POST", "/api/v1/requests/{request_id}/resume"): Case("resource", "rights_request"),
    ("GET", "/api/v1/requests/{request_id}/diff"): Case("resource", "rights_request"),
    ("POST", "/api/v1/requests/{request_id}/approve"): Case("resource", "rights_request"),
    ("POST", "/api/v1/requests/{request_id}/deny"): Case(
        "resource", "rights_request", body={"ground": "identity_not_verified", "note": "x"}
    ),
    ("POST", "/api/v1/requests/{request_id}/cancel"): Case(
        "resource", "rights_request", body={"note": "x"}
    ),
    ("POST", "/api/v1/requests/{request_id}/tasks/{task_id}/complete"): Case(
        "resource", "rights_request", body={}
    ),
    ("POST", "/api/v1/requests/{request_id}/complete"): Case("resource", "rights_request"),
    ("POST", "/api/v1/requests/{request_id}/retry"): Case("resource", "rights_request"),
    ("POST", "/api/v1/requests/{request_id}/route"): Case(
        "resource", "rights_request", body={"controller": "org-a"}
    ),
    ("POST", "/integrations/connectors/{org_slug}/{system_id}/callback"): Case(
        "public", notes="signed with the system's credential; unknown org/system/task look alike"
    ),
    ("POST", "/integrations/meta/{org_slug}/data-deletion"): Case(
        "public",
        notes="Meta's signed_request under the org's app secret; nothing read before the check",
    ),
    ("DELETE", "/api/v1/subjects/{subject_id}/social-logins/{provider}"): Case(
        "resource", "subject"
    ),
    ("GET", "/privacy/{org_slug}/request"): Case("public", notes="the empty request form"),
    ("POST", "/privacy/{org_slug}/request"): Case(
        "public", notes="sends a code; the same answer whether or not the address is on record"
    ),
    ("POST", "/privacy/{org_slug}/request/verify"): Case(
        "public", notes="a code of this organisation's challenge; the form sealed to that challenge"
    ),
    ("GET", "/privacy/{org_slug}/request/{token}"): Case(
        "public", notes="the request's secret status token; number, type, status and dates only"
    ),
    ("POST", "/api/v1/requests/{request_id}/download-link"): Case(
        "resource", "rights_request", body={}
    ),
    ("GET", "/downloads/{token}"): Case(
        "public", notes="HMAC under the org's own link key, bound to one request, expiring"
    ),
    ("POST", "/api/v1/requests/{request_id}/approve-routed"): Case("resource", "rights_request"),
    ("POST", "/api/v1/breaches"): Case("own", body={"title": "B's own incident"}),
    ("GET", "/api/v1/breaches"): Case("list"),
    ("GET", "/api/v1/breaches/business-users"): Case("list"),
    ("GET", "/api/v1/breaches/{breach_id}"): Case("resource", "breach"),
    ("PATCH", "/api/v1/breaches/{breach_id}"): Case("resource", "breach", body={"title": "B"}),
    ("POST", "/api/v1/breaches/{breach_id}/confirm"): Case("resource", "breach", body={}),
    ("POST", "/api/v1/breaches/{breach_id}/notes"): Case("resource", "breach", body={"note": "x"}),
    ("GET", "/api/v1/breaches/{breach_id}/affected"): Case("resource", "breach"),
    ("POST", "/api/v1/breaches/{breach_id}/affected/discover"): Case("resource", "breach"),
    ("POST", "/api/v1/breaches/{breach_id}/affected/import"): Case(
        "resource", "breach", body={"csv": "someone@b.example"}
    ),
    ("POST", "/api/v1/breaches/{breach_id}/notices"): Case("resource", "breach"),
    ("GET", "/api/v1/breaches/{breach_id}/notices"): Case("resource", "breach"),
    ("POST", "/api/v1/breaches/{breach_id}/notices/{audience}/approve"): Case("resource", "breach"),
    ("POST", "/api/v1/breaches/{breach_id}/notices/{audience}/send"): Case(
        "resource", "breach", body={}
    ),
    ("GET", "/api/v1/breaches/{breach_id}/deliveries"): Case("resource", "breach"),
    ("GET", "/api/v1/breaches/{breach_id}/authority-notice"): Case("resource", "breach"),
    ("GET", "/api/v1/breaches/{breach_id}/evidence"): Case("resource", "breach"),
    ("POST", "/api/v1/breaches/{breach_id}/close"): Case(
        "resource", "breach", body={"reason": "x"}
    ),
    ("GET", "/api/v1/retention/plan"): Case("list"),
    ("POST", "/api/v1/retention/runs"): Case("own", body={}),
    ("GET", "/api/v1/retention/runs"): Case("list"),
    ("GET", "/api/v1/retention/runs/{run_id}"): Case("resource", "retention_run"),
    ("GET", "/api/v1/retention/report"): Case(
        "list", params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    ),
    ("POST", "/api/v1/retention/subjects/{subject_id}/clocks"): Case(
        "resource", "subject", body={"event": "account_closed"}
    ),
    ("GET", "/api/v1/retention/subjects/{subject_id}/clocks"): Case("resource", "subject"),
    ("GET", "/api/v1/retention/holds"): Case("list"),
    ("POST", "/api/v1/retention/holds"): Case(
        "own", body={"scope": "category", "target": "contact", "reason": "B audit", "owner": "B"}
    ),
    ("GET", "/api/v1/retention/holds/{hold_id}"): Case("resource", "legal_hold"),
    ("POST", "/api/v1/retention/holds/{hold_id}/release"): Case("resource", "legal_hold", body={}),
    ("POST", "/v1/chat/completions"): Case(
        "public",
        notes="OpenAI-compatible: a gateway.use key; conversations bound to key and org "
        "(tests/gateway)",
    ),
    ("GET", "/v1/models"): Case("public", notes="the org's own provider's model list"),
    ("GET", "/api/v1/gateway/upstream"): Case("list"),
    ("PUT", "/api/v1/gateway/upstream"): Case(
        "own", body={"base_url": "https://b-provider.example/v1", "api_key": "b-provider-key"}
    ),
    ("DELETE", "/api/v1/gateway/upstream"): Case("own"),
    ("GET", "/api/v1/gateway/logs"): Case("list"),
    ("POST", "/api/v1/gateway/conversations/end"): Case(
        "own", body={"conversation": "pvc_not_one_of_b"}
    ),
}


def _routes(app):
    """Every (method, path) the app serves, routers included (FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        contexts = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        contexts = list(iter_route_contexts(app.routes))
    found = []
    for route in contexts:
        if route.path is None or not route.methods:
            continue
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            found.append((method, route.path))
    assert len(found) > 20, "route discovery found too few routes"
    return found


def _web(path: str) -> bool:
    # Staff pages (covered by tests/web with sessions) and static files.
    return path.startswith(("/admin", "/static"))


def test_every_route_is_in_the_matrix(app):
    missing = [f"{m} {p}" for m, p in _routes(app) if (m, p) not in MATRIX and not _web(p)]
    assert missing == [], "routes without an isolation decision: " + ", ".join(missing)


@pytest.fixture
def world(db, settings, make_org, app):
    """Organisation A with one of everything, B with its own, and a processor that hosts neither."""
    vault = app.state.vault
    proc = make_org("proc", role="processor")
    a = make_org("org-a")
    b = make_org("org-b")
    with db.session(a.id) as s:
        staff, _ = orgs.create_staff(s, settings, email="secret-agent@a.example", role="agent")
        key, _ = orgs.create_api_key(s, name="a-secret-key", scopes=["org.read"])
    # A's grant goes to a second processor so B may still create one for "proc" in the matrix.
    proc2 = make_org("proc-two", role="processor")
    with db.session(a.id) as s:
        grant = orgs.create_hosting_grant(
            s,
            processor=orgs.get_org_by_slug(s, "proc-two"),
            actions=["org.read"],
            instructions="A's instructions",
            approved_subprocessors=[],
        )
    a_policy = _policy("org-a", "Alpha Hidden Holdings")
    b_policy = _policy("org-b", "Beta Open Company")
    versions = {}
    for org, text in ((a, a_policy), (b, b_policy)):
        with db.session(org.id) as s:
            principal = orgs.system_principal(org.id)
            versions[org.slug] = policies.create_draft(s, principal, text)
            policies.publish(s, principal, versions[org.slug])
    markers = [a.id, staff.id, staff.email, key.key_id, key.name, grant.id, "A's instructions"]
    markers += [versions["org-a"].id, "Alpha Hidden Holdings"]
    with db.session(a.id) as s:
        secrets.set_secret(
            s, orgs.system_principal(a.id), "a_only_secret", "a-secret-value", vault=vault
        )
    markers += ["a_only_secret", "a-secret-value"]
    from privasi.subjects import service as subjects

    with db.session(a.id) as s:
        a_subject = subjects.find_or_create(
            s, orgs.system_principal(a.id), {"email": "hidden-subject@a.example"}
        )
        from privasi.consent import service as consent

        a_event = consent.grant(
            s,
            orgs.system_principal(a.id),
            a_subject,
            "newsletter",
            consent.Proof(None, "Alpha consent wording", "en", "web", "checkbox"),
        )
    markers += [a_subject.id, "hidden-subject@a.example", a_event.id, "Alpha consent wording"]
    from privasi.notify import service as notify

    with db.session(a.id) as s:
        a_message = notify.enqueue(
            s,
            channel="email",
            template="verification_code",
            lang="en",
            params={"code": "909090", "minutes": 10},
            subject_id=a_subject.id,
            dedupe_key="a-secret-dedupe",
        )
    markers += [a_message.id, "a-secret-dedupe", "909090"]
    from privasi.rights import service as rights

    with db.session(a.id) as s:
        a_request = rights.submit(
            s,
            orgs.system_principal(a.id),
            type="rectification",
            channel="api",
            subject_id=a_subject.id,
            details={"changes": {"email": "hidden-new@a.example"}},
        )
    markers += [a_request.id, "hidden-new@a.example"]
    from privasi.retention import holds as retention_holds
    from privasi.retention import service as retention

    a_run_id = retention.run_all(db, a.id, owner="isolation")[0].id
    with db.session(a.id) as s:
        a_hold_id = retention_holds.place(
            s,
            orgs.system_principal(a.id),
            scope="subject",
            target=a_subject.id,
            reason="Alpha hold reason",
            owner="Alpha legal",
        ).id
    markers += [a_run_id, a_hold_id, "Alpha hold reason", "Alpha legal"]
    from privasi.breach import service as breaches

    with db.session(a.id) as s:
        a_breach = breaches.create(
            s, orgs.system_principal(a.id), title="Alpha secret incident", categories=["contact"]
        )
    markers += [a_breach.id, "Alpha secret incident"]
    ids = {
        "staff": staff.id,
        "api_key": key.key_id,
        "grant": grant.id,
        "policy": versions["org-a"].id,
        "secret": "a_only_secret",
        "subject": a_subject.id,
        "consent_event": a_event.id,
        "outbox_message": a_message.id,
        "rights_request": a_request.id,
        "breach": a_breach.id,
        "retention_run": a_run_id,
        "legal_hold": a_hold_id,
    }
    return {
        "a": a,
        "b": b,
        "proc": proc,
        "proc2": proc2,
        "ids": ids,
        "markers": markers,
        "b_policy": b_policy,
    }


def _policy(slug: str, legal_name: str) -> str:
    doc = yaml.safe_load(MINIMAL.read_text())
    doc["organisation"]["slug"] = slug
    doc["organisation"]["legal_name"] = legal_name
    doc["organisation"]["brand"] = legal_name
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _fill(path: str, value: str) -> str:
    start = path.index("{")
    end = path.index("}")
    return path[:start] + value + path[end + 1 :]


def test_b_cannot_reach_anything_of_a(client, app, world):
    b = world["b"]
    for method, path in _routes(app):
        case = MATRIX.get((method, path))
        if case is None or case.kind in {"public", "web"} or _web(path):
            continue
        url = path
        if case.kind == "resource":
            url = _fill(path, world["ids"][case.resource])
        elif case.path_value is not None:
            url = _fill(path, case.path_value)
        body = case.body
        if body == {"source": "B_POLICY"}:
            body = {"source": world["b_policy"]}
        r = client.request(method, url, headers=b.headers, json=body, params=case.params)
        text = r.text
        if r.headers.get("content-type", "").startswith("application/problem+json"):
            # A problem's "instance" echoes the path B itself asked for; the rest must hold nothing.
            text = json.dumps({k: v for k, v in r.json().items() if k != "instance"})
        if case.kind == "resource":
            assert r.status_code == 404, f"{method} {path} gave {r.status_code}"
        else:
            assert r.status_code < 400, f"{method} {path}: {r.status_code} {text}"
        for marker in world["markers"]:
            if marker in url:
                continue  # B named it in the request; an echo of B's own input is no leak
            assert marker not in text, f"{method} {path} leaked A's data"
    # and A's objects are intact after B's attempts
    a = world["a"]
    staff = client.get(f"/api/v1/staff/{world['ids']['staff']}", headers=a.headers)
    assert staff.status_code == 200 and staff.json()["name"] == ""
    key = client.get(f"/api/v1/api-keys/{world['ids']['api_key']}", headers=a.headers).json()
    assert key["revoked_at"] is None
    grant = client.get(f"/api/v1/hosting-grants/{world['ids']['grant']}", headers=a.headers)
    assert grant.json()["revoked_at"] is None
    assert client.get("/api/v1/org", headers=a.headers).json()["name"] == "Org-A"
    names = [i["name"] for i in client.get("/api/v1/secrets", headers=a.headers).json()["items"]]
    assert names == ["a_only_secret"]


def test_org_header_without_grant_is_404(client, world):
    b = world["b"]
    r = client.get("/api/v1/org", headers={**b.headers, "Privasi-Organization": "org-a"})
    assert r.status_code == 404
    r = client.get("/api/v1/org", headers={**b.headers, "Privasi-Organization": "no-such-org"})
    assert r.status_code == 404
    assert json.loads(r.text)["detail"] == "organisation not found"


def test_hosting_grant_opens_exactly_what_it_lists(client, world):
    proc2, a = world["proc2"], world["a"]
    as_proc_in_a = {**proc2.headers, "Privasi-Organization": "org-a"}
    r = client.get("/api/v1/org", headers=as_proc_in_a)
    assert r.status_code == 200 and r.json()["id"] == a.id
    # staff.read is not in the grant, even though proc2's key holds it at home
    assert client.get("/api/v1/staff", headers=as_proc_in_a).status_code == 403
    assert client.get("/api/v1/staff", headers=proc2.headers).status_code == 200
    hosted = client.get("/api/v1/orgs/hosted", headers=proc2.headers).json()
    assert [o["slug"] for o in hosted] == ["org-a"]
    # the other processor has no grant from A
    r = client.get(
        "/api/v1/org", headers={**world["proc"].headers, "Privasi-Organization": "org-a"}
    )
    assert r.status_code == 404
    # revoking closes it at once
    client.delete(f"/api/v1/hosting-grants/{world['ids']['grant']}", headers=a.headers)
    assert client.get("/api/v1/org", headers=as_proc_in_a).status_code == 404
