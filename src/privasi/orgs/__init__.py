"""Organisations (tenants), staff users, roles, API keys, hosting grants, MFA."""
