"""scrobble_tokens: per-user tokens of the ListenBrainz-compatible scrobbling API

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scrobble_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scrobble_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrobble_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scrobble_tokens_token_hash")),
    )
    op.create_index("ix_scrobble_tokens_user", "scrobble_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("scrobble_tokens")  # its indexes go with it
