from __future__ import annotations

from collections.abc import Iterator

import pytest

from privasi.config import Settings
from privasi.db import Database
from privasi.orgs import service as orgs
from privasi.vault.service import Vault


@pytest.fixture
def vault(settings: Settings, db: Database) -> Iterator[Vault]:
    v = Vault.from_settings(settings, db)
    yield v
    v.close()


@pytest.fixture
def org_id(db: Database) -> str:
    with db.session(system=True) as s:
        return orgs.create_org(s, "toko-kopi", "Toko Kopi Senja").id


@pytest.fixture
def other_org_id(db: Database) -> str:
    with db.session(system=True) as s:
        return orgs.create_org(s, "klinik-sehat", "Klinik Sehat Sentosa").id
