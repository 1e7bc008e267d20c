"""Meta's data-deletion callback and unlinking a social login.

signed_request values are built here the way Meta builds them: the HMAC-SHA256 of the encoded
payload under a known app secret, both parts base64url without padding. Ids are fictional.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import func, select

from privasi.audit.models import AuditEvent
from privasi.orgs.service import system_principal
from privasi.policy import service as policies
from privasi.rights import meta
from privasi.rights import service as rights
from privasi.rights.models import RightsRequest
from privasi.subjects import service as subjects
from privasi.vault import service as vault

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
ASID = "1029384756102938"
EMAIL = "agus.pratama@contoh.example"
WINDOW = 3600


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: dict[str, Any], secret: str = SECRET) -> str:
    encoded = b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return f"{b64(signature)}.{encoded}"


def payload(user_id: str = ASID, issued_at: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "algorithm": "HMAC-SHA256",
        "issued_at": int(time.time()) if issued_at is None else issued_at,
        "user_id": user_id,
        **extra,
    }


# --- parsing, without a database -----------------------------------------------------------------


def test_a_valid_signed_request_gives_its_payload() -> None:
    data = meta.parse_signed_request(signed(payload()), SECRET, max_age_seconds=WINDOW)
    assert data["user_id"] == ASID


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(
            lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], id="payload-edited"
        ),
        pytest.param(lambda s: "x" + s[1:] if s[0] != "x" else "y" + s[1:], id="signature-edited"),
        pytest.param(lambda s: s.split(".")[1], id="no-signature"),
        pytest.param(lambda s: s.replace(".", "=."), id="padding"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_tampered_signed_requests_are_refused(mangle: Any) -> None:
    with pytest.raises(meta.SignedRequestInvalid):
        meta.parse_signed_request(mangle(signed(payload())), SECRET, max_age_seconds=WINDOW)


def test_another_secret_or_algorithm_is_refused() -> None:
    with pytest.raises(meta.SignedRequestInvalid, match="signature"):
        meta.parse_signed_request(
            signed(payload(), secret="another-app-secret"), SECRET, max_age_seconds=WINDOW
        )
    with pytest.raises(meta.SignedRequestInvalid, match="algorithm"):
        meta.parse_signed_request(
            signed(payload(algorithm="HMAC-SHA1")), SECRET, max_age_seconds=WINDOW
        )
    with pytest.raises(meta.SignedRequestInvalid, match="user_id"):
        no_user = payload()
        del no_user["user_id"]
        meta.parse_signed_request(signed(no_user), SECRET, max_age_seconds=WINDOW)


def test_issued_at_one_second_either_side_of_the_window() -> None:
    now = datetime(2026, 3, 5, 7, 0, 0, tzinfo=UTC)
    edge = int(now.timestamp()) - WINDOW
    data = meta.parse_signed_request(
        signed(payload(issued_at=edge)), SECRET, max_age_seconds=WINDOW, now=now
    )
    assert data["issued_at"] == edge
    with pytest.raises(meta.SignedRequestInvalid, match="expired"):
        meta.parse_signed_request(
            signed(payload(issued_at=edge - 1)), SECRET, max_age_seconds=WINDOW, now=now
        )
    with pytest.raises(meta.SignedRequestInvalid, match="future"):
        meta.parse_signed_request(
            signed(payload(issued_at=int(now.timestamp()) + 301)),
            SECRET,
            max_age_seconds=WINDOW,
            now=now,
        )


# --- the callback --------------------------------------------------------------------------------


@pytest.fixture
def hosting(db: Any, make_org: Any) -> Any:
    org = make_org("hosting-net")
    doc = yaml.safe_load((EXAMPLES / "cybernet.yaml").read_text(encoding="utf-8"))
    doc["organisation"]["slug"] = org.slug
    doc["effective_date"] = "2026-01-01"
    source = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    policies.load_and_publish(db, org.id, system_principal(org.id), source, "test.yaml")
    with db.session(org.id) as s:
        principal = system_principal(org.id)
        vault.set_secret(s, principal, meta.SECRET_NAME, SECRET)
        subject = subjects.find_or_create(s, principal, {"email": EMAIL, "meta_asid": ASID})
        org.subject_id = subject.id
    return org


def url(org: Any) -> str:
    return f"/integrations/meta/{org.slug}/data-deletion"


def request_count(db: Any, org: Any) -> int:
    with db.session(org.id) as s:
        return int(s.scalar(select(func.count()).select_from(RightsRequest)) or 0)


def test_callback_records_a_verified_erasure_and_answers_meta(
    client: Any, db: Any, hosting: Any
) -> None:
    answer = client.post(url(hosting), data={"signed_request": signed(payload())})
    assert answer.status_code == 200
    body = answer.json()
    assert body["confirmation_code"] == "REQ-000001"
    assert body["url"].startswith("http://")
    assert f"/privacy/{hosting.slug}/request/" in body["url"]
    with db.session(hosting.id) as s:
        [request] = s.scalars(select(RightsRequest)).all()
        assert (request.type, request.channel) == ("erasure", "meta")
        assert request.subject_id == hosting.subject_id
        assert request.verification_method == "meta_signed_request"
        assert request.status == "in_progress"
    # The URL Meta shows the person leads to the request's status.
    page = client.get(urlsplit(body["url"]).path)
    assert page.status_code == 200
    assert "REQ-000001" in page.text
    assert "Sedang diproses" in page.text
    assert EMAIL not in page.text and ASID not in page.text


def test_meta_calling_again_gets_the_same_request(client: Any, db: Any, hosting: Any) -> None:
    first = client.post(url(hosting), data={"signed_request": signed(payload())}).json()
    again = client.post(url(hosting), data={"signed_request": signed(payload())}).json()
    assert again["confirmation_code"] == first["confirmation_code"]
    assert request_count(db, hosting) == 1


def test_unknown_person_is_recorded_for_staff_to_match(client: Any, db: Any, hosting: Any) -> None:
    answer = client.post(url(hosting), data={"signed_request": signed(payload("55566677788"))})
    assert answer.status_code == 200
    with db.session(hosting.id) as s:
        [request] = s.scalars(select(RightsRequest)).all()
        assert request.subject_id is None and request.verified_at is None


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"signed_request": signed(payload(), secret="wrong")}, id="wrong-secret"),
        pytest.param(
            {"signed_request": signed(payload(issued_at=int(time.time()) - WINDOW - 60))},
            id="expired",
        ),
        pytest.param({"signed_request": "abc.def"}, id="garbage"),
        pytest.param({}, id="missing"),
    ],
)
def test_refused_callbacks_create_nothing(
    client: Any, db: Any, hosting: Any, form: dict[str, str]
) -> None:
    answer = client.post(url(hosting), data=form)
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("meta-signed-request-invalid")
    assert ASID not in answer.text
    assert request_count(db, hosting) == 0


def test_an_org_without_an_app_secret_or_unknown_org_is_not_found(
    client: Any, db: Any, make_org: Any
) -> None:
    org = make_org("tanpa-meta")
    assert client.post(url(org), data={"signed_request": signed(payload())}).status_code == 404
    missing = client.post(
        "/integrations/meta/no-such-org/data-deletion",
        data={"signed_request": signed(payload())},
    )
    assert missing.status_code == 404


# --- unlinking ------------------------------------------------------------------------------------


def test_unlinking_facebook_removes_the_identifier_only(client: Any, db: Any, hosting: Any) -> None:
    path = f"/api/v1/subjects/{hosting.subject_id}/social-logins/facebook"
    answer = client.delete(path, headers=hosting.headers)
    assert answer.status_code == 200
    assert answer.json()["removed"] == 1
    with db.session(hosting.id) as s:
        assert subjects.find_by_identifier(s, "meta_asid", ASID) is None
        found = subjects.find_by_identifier(s, "email", EMAIL)
        assert found is not None and found.id == hosting.subject_id
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "subject.social_login_unlinked")
        ).one()
        assert event.subject_id == hosting.subject_id
        assert ASID not in json.dumps(event.details)
    # Unlinking again finds nothing to remove; an unknown provider is refused.
    assert client.delete(path, headers=hosting.headers).json()["removed"] == 0
    bad = client.delete(
        f"/api/v1/subjects/{hosting.subject_id}/social-logins/myspace", headers=hosting.headers
    )
    assert bad.status_code == 422


def test_unlinking_needs_the_subjects_permission(client: Any, db: Any, make_org: Any) -> None:
    org = make_org("baca-saja", scopes=["subjects.read"])
    with db.session(org.id) as s:
        subject = subjects.find_or_create(s, system_principal(org.id), {"meta_asid": ASID})
    answer = client.delete(f"/api/v1/subjects/{subject.id}/social-logins/meta", headers=org.headers)
    assert answer.status_code == 403
    with db.session(org.id) as s:
        assert rights.list_requests(s).items == []
        assert subjects.find_by_identifier(s, "meta_asid", ASID) is not None


def test_unlinking_google_removes_the_google_account_id(
    client: Any, db: Any, make_org: Any
) -> None:
    org = make_org("masuk-google")
    with db.session(org.id) as s:
        subject = subjects.find_or_create(
            s, system_principal(org.id), {"google": "104857600123456789012", "email": EMAIL}
        )
    answer = client.delete(
        f"/api/v1/subjects/{subject.id}/social-logins/google", headers=org.headers
    )
    assert answer.status_code == 200 and answer.json()["removed"] == 1
    with db.session(org.id) as s:
        assert subjects.find_by_identifier(s, "google", "104857600123456789012") is None
        assert subjects.find_by_identifier(s, "email", EMAIL).id == subject.id
