"""songs.audio_id: the song's id in audio_service's index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("songs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio_id", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_songs_audio_id"), ["audio_id"])


def downgrade() -> None:
    with op.batch_alter_table("songs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_songs_audio_id"), type_="unique")
        batch_op.drop_column("audio_id")
