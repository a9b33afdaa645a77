"""library_files: the files of the user's music folder and the songs they play

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("path_key", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("match_confidence", sa.Float(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["song_id"], ["songs.id"], name=op.f("fk_library_files_song_id_songs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_files")),
        sa.UniqueConstraint("path_key", name=op.f("uq_library_files_path_key")),
    )
    op.create_index("ix_library_files_hash", "library_files", ["content_hash"])
    op.create_index("ix_library_files_song", "library_files", ["song_id"])


def downgrade() -> None:
    # The indexes go with the table (MySQL refuses to drop one a foreign key needs first).
    op.drop_table("library_files")
