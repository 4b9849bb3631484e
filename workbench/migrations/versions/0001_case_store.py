"""the case store: officers and their hubs, cases, outbox, audit, consumer offsets

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "officer_hubs",
        sa.Column("username", sa.String(64),
                  sa.ForeignKey("officers.username", ondelete="CASCADE"), primary_key=True),
        sa.Column("hub", sa.String(64), primary_key=True),
    )
    op.create_table(
        "cases",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("stream", sa.String(16)),
        sa.Column("hub", sa.String(64)),
        sa.Column("score", sa.Float()),
        sa.Column("level", sa.String(32)),
        sa.Column("selection_kind", sa.String(16)),
        sa.Column("reasons", sa.JSON()),
        sa.Column("model_version", sa.String(128)),
        sa.Column("refs", sa.JSON()),
        sa.Column("event_time", UTC_TIME),
        sa.Column("decided_at", UTC_TIME),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", UTC_TIME),
        sa.Column("closed_at", UTC_TIME),
        sa.Column("closed_by", sa.String(80)),
        sa.Column("source", sa.String(16)),
        sa.Column("result", sa.String(32)),
        sa.Column("severity", sa.Integer()),
        sa.Column("recovered_amount", sa.Numeric(14, 2)),
        sa.Column("officer_unit", sa.String(64)),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_cases_queue", "cases", ["state", "hub", "stream", "score"])
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(128),
                  sa.ForeignKey("cases.event_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("published_at", UTC_TIME),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at"])
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(128)),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_table(
        "consumer_offsets",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("consumer_offsets", "audit", "outbox", "cases", "officer_hubs", "officers"):
        op.drop_table(table)
