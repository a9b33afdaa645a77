"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('songs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('msd', 'catalog', 'upload', name='song_source', native_enum=False, length=16), nullable=False),
    sa.Column('msd_song_id', sa.String(length=32), nullable=True),
    sa.Column('msd_track_id', sa.String(length=32), nullable=True),
    sa.Column('title', sa.String(length=512), nullable=True),
    sa.Column('artist', sa.String(length=512), nullable=True),
    sa.Column('release', sa.String(length=512), nullable=True),
    sa.Column('year', sa.SmallInteger(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('tempo_bpm', sa.Float(), nullable=True),
    sa.Column('genre', sa.String(length=128), nullable=True),
    sa.Column('tags', sa.Text(), nullable=True),
    sa.Column('collection', sa.String(length=128), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('audio_path', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_songs')),
    sa.UniqueConstraint('msd_song_id', name=op.f('uq_songs_msd_song_id'))
    )
    with op.batch_alter_table('songs', schema=None) as batch_op:
        batch_op.create_index('ix_songs_artist', ['artist'], unique=False, mysql_length=191)
        batch_op.create_index('ix_songs_source', ['source'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('msd_user_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('msd_user_id', name=op.f('uq_users_msd_user_id')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('song_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('like', 'dislike', name='feedback_kind', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['song_id'], ['songs.id'], name=op.f('fk_feedback_song_id_songs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_feedback_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('user_id', 'song_id', name='uq_feedback_user_song')
    )
    op.create_table('plays',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('song_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_played_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('count >= 1', name=op.f('ck_plays_count_positive')),
    sa.ForeignKeyConstraint(['song_id'], ['songs.id'], name=op.f('fk_plays_song_id_songs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_plays_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plays')),
    sa.UniqueConstraint('user_id', 'song_id', name='uq_plays_user_song')
    )
    with op.batch_alter_table('plays', schema=None) as batch_op:
        batch_op.create_index('ix_plays_last_played', ['last_played_at'], unique=False)
        batch_op.create_index('ix_plays_song', ['song_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('song_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_ratings_rating_range')),
    sa.ForeignKeyConstraint(['song_id'], ['songs.id'], name=op.f('fk_ratings_song_id_songs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ratings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('user_id', 'song_id', name='uq_ratings_user_song')
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index('ix_ratings_song', ['song_id'], unique=False)



def downgrade() -> None:
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key still uses.
    for table in ("ratings", "plays", "feedback", "users", "songs"):
        op.drop_table(table)
