"""First run and every run after: data dir, schema, keys, the demo organisation and its owner.

Idempotent: a second run reuses what exists (same keys, same data) and creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from privasi.config import Settings
from privasi.db import Database
from privasi.migrate import upgrade
from privasi.orgs import service as orgs
from privasi.orgs.models import StaffRole, StaffUser
from privasi.vault.service import Vault

DEMO_SLUG = "digimetalab"
DEMO_OWNER = "owner@digimetalab.example"


@dataclass
class InitResult:
    org_slug: str | None
    owner_email: str | None
    one_time_password: str | None  # None once the owner has chosen a password
    created: bool


def demo_policy_path(settings: Settings) -> Path:
    return settings.demo_policy or Path("examples") / f"{DEMO_SLUG}.yaml"


def initialise(settings: Settings, *, demo: bool = True) -> InitResult:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_secret_key()
    upgrade(settings.db_url)
    db = Database(settings.db_url)
    # Opening the vault creates the key store and master key on the first run.
    vault = Vault.from_settings(settings, db)
    try:
        if not demo:
            return InitResult(None, None, None, False)
        return _demo(settings, db)
    finally:
        vault.close()
        db.dispose()


def _demo(settings: Settings, db: Database) -> InitResult:
    created = False
    with db.session(system=True) as s:
        org = orgs.find_org_by_slug(s, DEMO_SLUG)
        if org is None:
            name, time_zone, role = _demo_identity(settings)
            org = orgs.create_org(s, DEMO_SLUG, name, time_zone=time_zone, role=role)
            created = True
        org_id = org.id
    with db.session(org_id) as s:
        owner = s.scalar(select(StaffUser).where(StaffUser.role == StaffRole.owner.value))
        if owner is None:
            owner, one_time = orgs.create_staff(
                s, settings, email=DEMO_OWNER, role=StaffRole.owner.value, name="Demo owner"
            )
            created = True
        else:
            one_time = orgs.pending_password(settings, owner)
        result = InitResult(DEMO_SLUG, owner.email, one_time, created)
    _publish_demo_policy(settings, db, org_id)
    return result


def _publish_demo_policy(settings: Settings, db: Database, org_id: str) -> None:
    """Store and publish the demo policy file; an unchanged file is not stored twice."""
    path = demo_policy_path(settings)
    if not path.exists():
        return
    from privasi.policy import service as policies

    policies.load_and_publish(
        db, org_id, orgs.system_principal(org_id, "init"), path.read_text("utf-8"), path.name
    )


def _demo_identity(settings: Settings) -> tuple[str, str, str]:
    """Name, time zone and role of the demo organisation, from its policy file when present."""
    path = demo_policy_path(settings)
    if path.exists():
        from privasi.policy.loader import load_policy

        policy = load_policy(path)
        o = policy.organisation
        return (o.brand or o.legal_name, o.time_zone, o.role.value)
    return ("Digimetalab", "Asia/Makassar", "controller")
