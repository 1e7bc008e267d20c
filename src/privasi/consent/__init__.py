"""Consent: the ledger with proof, its projection, checks and evidence."""
