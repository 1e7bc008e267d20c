"""Reading the trail: filters, time windows and pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from privasi.audit import service as audit
from privasi.db import Database, utcnow
from privasi.errors import ValidationFailed
from privasi.orgs.service import system_principal


@pytest.fixture
def trail(vault, db: Database, org_id: str) -> str:
    with db.session(org_id) as s:
        for i in range(7):
            audit.record(s, system_principal(org_id, "crm"), "subject.read", subject_id="ani")
        audit.record(s, system_principal(org_id, "dpo"), "consent.withdrawn", subject_id="budi")
        audit.record(s, system_principal(org_id, "dpo"), "consent.given", subject_id="ani")
    return org_id


def test_filters(db: Database, trail: str) -> None:
    with db.session(trail) as s:
        assert len(audit.query(s, subject_id="ani").items) == 8
        assert [e.action for e in audit.query(s, actor="system:dpo").items] == [
            "consent.given",
            "consent.withdrawn",
        ]
        assert len(audit.query(s, action="consent.*").items) == 2
        assert len(audit.query(s, action="consent").items) == 0
        assert len(audit.query(s, action="subject.read", subject_id="budi").items) == 0


def test_time_window(db: Database, trail: str) -> None:
    now = utcnow()
    with db.session(trail) as s:
        assert len(audit.query(s, since=now - timedelta(minutes=5)).items) == 9
        assert audit.query(s, since=now + timedelta(minutes=5)).items == []
        assert audit.query(s, until=now - timedelta(minutes=5)).items == []


def test_pagination_newest_first(db: Database, trail: str) -> None:
    seen: list[int] = []
    cursor = None
    with db.session(trail) as s:
        while True:
            page = audit.query(s, limit=4, cursor=cursor)
            seen += [e.seq for e in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == list(range(9, 0, -1))


def test_bad_paging_input(db: Database, trail: str) -> None:
    with db.session(trail) as s:
        with pytest.raises(ValidationFailed):
            audit.query(s, limit=0)
        with pytest.raises(ValidationFailed):
            audit.query(s, cursor="abc")


def test_query_sees_only_its_organisation(db: Database, trail: str, other_org_id: str) -> None:
    with db.session(other_org_id) as s:
        assert audit.query(s).items == []
