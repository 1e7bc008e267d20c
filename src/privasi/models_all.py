"""Imports every table module so ``Base.metadata`` is complete (Alembic, tests, ``db upgrade``)."""

from privasi.audit import models as audit_models
from privasi.consent import models as consent_models
from privasi.consent.channels import models as consent_channel_models
from privasi.http import models as http_models
from privasi.jobs import models as jobs_models
from privasi.notify import models as notify_models
from privasi.orgs import models as orgs_models
from privasi.policy import models as policy_models
from privasi.rights import models as rights_models
from privasi.subjects import models as subjects_models
from privasi.vault import models as vault_models

__all__ = [
    "audit_models",
    "consent_channel_models",
    "consent_models",
    "http_models",
    "jobs_models",
    "notify_models",
    "orgs_models",
    "policy_models",
    "rights_models",
    "subjects_models",
    "vault_models",
]
