"""Imports every table module so ``Base.metadata`` is complete (Alembic, tests, ``db upgrade``)."""

from __future__ import annotations

from privasi.registry import import_if_present

TABLE_MODULES = [
    "privasi.audit.models",
    "privasi.consent.models",
    "privasi.consent.channels.models",
    "privasi.http.models",
    "privasi.jobs.models",
    "privasi.notify.models",
    "privasi.orgs.models",
    "privasi.policy.models",
    "privasi.rights.models",
    "privasi.subjects.models",
    "privasi.vault.models",
    "privasi.retention.models",
    "privasi.breach.models",
    "privasi.gateway.models",
]

for _name in TABLE_MODULES:
    import_if_present(_name)
