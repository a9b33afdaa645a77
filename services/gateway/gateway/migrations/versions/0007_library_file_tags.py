"""library_files: the file's own tags (library view) and its MSD match's status and candidates (admin review)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("library_files") as batch:
        batch.add_column(sa.Column("title", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("artist", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("album", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("album_artist", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("track_no", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("year", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("has_cover", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("match_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("match_candidates", sa.Text(), nullable=True))
    op.create_index("ix_library_files_match_status", "library_files", ["match_status"])


def downgrade() -> None:
    op.drop_index("ix_library_files_match_status", table_name="library_files")
    with op.batch_alter_table("library_files") as batch:
        for column in (
            "match_candidates",
            "match_status",
            "has_cover",
            "year",
            "track_no",
            "album_artist",
            "album",
            "artist",
            "title",
        ):
            batch.drop_column(column)
