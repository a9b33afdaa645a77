"""songs: metadata_uncertain / metadata_note (MSD's doubtful matches), edited_fields, updated_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("songs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("metadata_uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("metadata_note", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("edited_fields", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("songs", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("edited_fields")
        batch_op.drop_column("metadata_note")
        batch_op.drop_column("metadata_uncertain")
