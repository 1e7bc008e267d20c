"""Imports every table module so ``Base.metadata`` is complete (Alembic, tests, ``db upgrade``)."""

from privasi.jobs import models as jobs_models
from privasi.orgs import models as orgs_models

__all__ = ["jobs_models", "orgs_models"]
