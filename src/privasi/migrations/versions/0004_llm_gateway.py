"""llm gateway: upstreams, conversations (sealed placeholder mappings), chat logs, rate windows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import privasi.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_chat_logs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("request_text", sa.Text(), nullable=False),
        sa.Column("response_text", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("created_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_gateway_chat_logs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_chat_logs")),
    )
    with op.batch_alter_table("gateway_chat_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_chat_logs_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_chat_logs_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gateway_chat_logs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "gateway_conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("mapping_sealed", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_gateway_conversations_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_conversations")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_gateway_conversations_token_digest")),
    )
    with op.batch_alter_table("gateway_conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_conversations_api_key_id"), ["api_key_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_conversations_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_conversations_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "gateway_rate_windows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("window_start", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_gateway_rate_windows_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_rate_windows")),
        sa.UniqueConstraint("org_id", "api_key_id", "window_start", name="uq_gateway_rate_windows"),
    )
    with op.batch_alter_table("gateway_rate_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_rate_windows_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_rate_windows_window_start"), ["window_start"], unique=False
        )

    op.create_table(
        "gateway_upstreams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("credential", sa.String(length=128), nullable=True),
        sa.Column("recipient_id", sa.String(length=64), nullable=True),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column("updated_at", privasi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_gateway_upstreams_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_upstreams")),
        sa.UniqueConstraint("org_id", name="uq_gateway_upstreams_org"),
    )
    with op.batch_alter_table("gateway_upstreams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_upstreams_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_upstreams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_upstreams_org_id"))

    op.drop_table("gateway_upstreams")
    with op.batch_alter_table("gateway_rate_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_rate_windows_window_start"))
        batch_op.drop_index(batch_op.f("ix_gateway_rate_windows_org_id"))

    op.drop_table("gateway_rate_windows")
    with op.batch_alter_table("gateway_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_conversations_org_id"))
        batch_op.drop_index(batch_op.f("ix_gateway_conversations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_gateway_conversations_api_key_id"))

    op.drop_table("gateway_conversations")
    with op.batch_alter_table("gateway_chat_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_chat_logs_org_id"))
        batch_op.drop_index(batch_op.f("ix_gateway_chat_logs_expires_at"))
        batch_op.drop_index(batch_op.f("ix_gateway_chat_logs_conversation_id"))

    op.drop_table("gateway_chat_logs")
