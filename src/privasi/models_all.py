"""Imports every table module so ``Base.metadata`` is complete (Alembic, tests, ``db upgrade``)."""

from privasi.http import models as http_models
from privasi.jobs import models as jobs_models
from privasi.orgs import models as orgs_models

__all__ = ["http_models", "jobs_models", "orgs_models"]
