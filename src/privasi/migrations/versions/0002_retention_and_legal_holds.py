"""retention and legal holds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import privasi.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", privasi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.Column("release_note", sa.Text(), nullable=True),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_legal_holds_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_org_id"), ["org_id"], unique=False)

    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("as_of", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", privasi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", privasi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("anonymised", sa.Integer(), nullable=False),
        sa.Column("shredded", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_retention_runs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retention_runs_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_retention_runs_started", ["org_id", "started_at"], unique=False)

    op.create_table(
        "retention_clocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_retention_clocks_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_retention_clocks_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_clocks")),
    )
    with op.batch_alter_table("retention_clocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_retention_clocks_event_at", ["org_id", "event", "occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_retention_clocks_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "uq_retention_clocks_subject_event", ["org_id", "subject_id", "event"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("retention_clocks", schema=None) as batch_op:
        batch_op.drop_index("uq_retention_clocks_subject_event")
        batch_op.drop_index(batch_op.f("ix_retention_clocks_org_id"))
        batch_op.drop_index("ix_retention_clocks_event_at")

    op.drop_table("retention_clocks")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_runs_started")
        batch_op.drop_index(batch_op.f("ix_retention_runs_org_id"))

    op.drop_table("retention_runs")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_org_id"))

    op.drop_table("legal_holds")
