"""Durable, due-time work items that ``privasi worker`` claims and runs idempotently."""
