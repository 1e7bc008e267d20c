"""Append-only, HMAC-chained audit trail per organisation. Use ``privasi.audit.service``."""
