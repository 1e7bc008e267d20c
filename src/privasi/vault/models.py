"""Vault tables in the main database: the organisations' secrets (ciphertext only) and the copy of
the shred journal that survives a key store restored from an older backup."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from privasi.db import Base, TenantMixin, new_id, utcnow


class OrgSecret(TenantMixin, Base):
    __tablename__ = "org_secrets"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_org_secrets_org_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    # "pv1.<key id>.<nonce+ciphertext>", sealed under the organisation's secrets key
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100), default=None)


class ShredRecord(TenantMixin, Base):
    __tablename__ = "vault_shreds"
    __table_args__ = (UniqueConstraint("org_id", "subject_id", name="uq_vault_shreds_subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    shredded_at: Mapped[datetime] = mapped_column(default=utcnow)
