"""Subsonic apps: app credentials (app passwords, API keys), playlists, play queues, starred albums and artists

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "app_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        _user_fk("app_credentials"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_credentials")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_app_credentials_key_hash")),
    )
    op.create_index("ix_app_credentials_user", "app_credentials", ["user_id"])
    op.create_table(
        "playlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.String(length=1024), nullable=True),
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _user_fk("playlists"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
    )
    op.create_index("ix_playlists_user", "playlists", ["user_id"])
    op.create_table(
        "playlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"], ["playlists.id"], name=op.f("fk_playlist_items_playlist_id_playlists"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["songs.id"], name=op.f("fk_playlist_items_song_id_songs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_items")),
    )
    op.create_index("ix_playlist_items_playlist", "playlist_items", ["playlist_id", "position"])
    op.create_table(
        "play_queues",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("song_ids", sa.Text(), nullable=False),
        sa.Column("current_song_id", sa.Integer(), nullable=True),
        sa.Column("position_ms", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        _user_fk("play_queues"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_play_queues")),
    )
    op.create_table(
        "stars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _user_fk("stars"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stars")),
        sa.UniqueConstraint("user_id", "kind", "item_key", name="uq_stars_user_item"),
    )


def downgrade() -> None:
    for table in ("stars", "play_queues", "playlist_items", "playlists", "app_credentials"):
        op.drop_table(table)  # their indexes go with them
