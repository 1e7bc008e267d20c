"""The business's own systems: ``sql`` (any SQLAlchemy URL) and ``http`` (signed webhooks)."""
