"""Listening signals: how long a play lasted, early skips, and each listener's exclusion rules

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("play_events") as batch:
        batch.add_column(sa.Column("played_ms", sa.Integer(), nullable=True))
    op.create_table(
        "skip_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("played_ms", sa.Integer(), nullable=False),
        sa.Column("skipped_at", sa.DateTime(), nullable=False),
        _fk("skip_events", "user_id", "users"),
        _fk("skip_events", "song_id", "songs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skip_events")),
    )
    op.create_index("ix_skip_events_user_skipped", "skip_events", ["user_id", "skipped_at"])
    op.create_table(
        "exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("value_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("exclusions", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusions")),
        sa.UniqueConstraint("user_id", "kind", "value_key", name="uq_exclusions_user_rule"),
    )


def downgrade() -> None:
    op.drop_table("exclusions")
    op.drop_table("skip_events")
    with op.batch_alter_table("play_events") as batch:
        batch.drop_column("played_ms")
