"""Key store, envelope encryption, blind indexes, crypto-shredding, secrets.

Other domains import ``privasi.vault.service``.
"""
