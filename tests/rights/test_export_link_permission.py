"""The download-link API answers with the export's URL, which opens the person's whole export: it
needs ``subjects.read`` as well as ``requests.manage``, as the staff page's download does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from privasi.notify.models import OutboxMessage
from privasi.orgs import service as orgs

from .test_download import world  # noqa: F401  (a fixture)


def _key(db: Any, org_id: str, scopes: list[str]) -> dict[str, str]:
    with db.session(org_id) as s:
        _, token = orgs.create_api_key(s, name="helpdesk", scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


def test_a_key_without_subjects_read_gets_no_export_link(client: Any, db: Any, world: Any) -> None:  # noqa: F811
    path = f"/api/v1/requests/{world.request_id}/download-link"
    helpdesk = _key(db, world.id, ["requests.read", "requests.manage"])
    refused = client.post(path, json={}, headers=helpdesk)
    assert refused.status_code == 403
    assert "subjects.read" in refused.json()["detail"]
    assert "url" not in refused.json()
    with db.session(world.id) as s:
        queued = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "rights_export_ready")
        ).all()
        assert queued == []  # nothing half-done either

    allowed = _key(db, world.id, ["requests.manage", "subjects.read"])
    answer = client.post(path, json={}, headers=allowed)
    assert answer.status_code == 200 and answer.json()["url"].startswith("http")
