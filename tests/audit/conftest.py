from __future__ import annotations

from collections.abc import Iterator

import pytest

from privasi.config import Settings
from privasi.db import Database
from privasi.orgs.models import Organisation
from privasi.vault.service import Vault


@pytest.fixture
def vault(settings: Settings, db: Database) -> Iterator[Vault]:
    v = Vault.from_settings(settings, db)
    yield v
    v.close()


def _bare_org(db: Database, slug: str, name: str) -> str:
    # Inserted directly rather than through orgs.create_org (which records `org.created`), so each
    # chain test starts from an empty chain and can name events by their sequence number.
    with db.session(system=True) as s:
        org = Organisation(slug=slug, name=name)
        s.add(org)
        s.flush()
        return org.id


@pytest.fixture
def org_id(db: Database) -> str:
    return _bare_org(db, "toko-kopi", "Toko Kopi Senja")


@pytest.fixture
def other_org_id(db: Database) -> str:
    return _bare_org(db, "klinik-sehat", "Klinik Sehat Sentosa")
