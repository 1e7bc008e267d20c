"""Outbox: e-mail, WhatsApp and signed webhooks written in the caller's transaction, delivered by
the worker with retries; bilingual message templates. Other domains use ``privasi.notify.service``."""
