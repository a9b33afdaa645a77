"""SQLAlchemy 2 models of the gateway's database.

Portable across SQLite, PostgreSQL and MySQL/MariaDB: bounded VARCHARs for
indexed columns (MySQL cannot index TEXT), explicit constraint names so
Alembic migrations stay stable.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SongSource(enum.StrEnum):
    msd = "msd"
    catalog = "catalog"
    upload = "upload"
    library = "library"  # a file of the user's own music folder (scan-library) that matched no MSD song


class FeedbackKind(enum.StrEnum):
    like = "like"
    dislike = "dislike"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # NULL for imported MSD listeners: they have histories but cannot log in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    msd_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, server_default=func.now())


class Song(Base):
    __tablename__ = "songs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[SongSource] = mapped_column(
        Enum(SongSource, name="song_source", native_enum=False, length=16, validate_strings=True)
    )
    msd_song_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    msd_track_id: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(512))
    artist: Mapped[str | None] = mapped_column(String(512))
    release: Mapped[str | None] = mapped_column(String(512))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    tempo_bpm: Mapped[float | None] = mapped_column(Float)
    genre: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[str | None] = mapped_column(Text)
    # Catalog songs (rendered public-domain scores) and uploads.
    collection: Mapped[str | None] = mapped_column(String(128))
    extra: Mapped[str | None] = mapped_column(Text)  # JSON: instruments, key, composer ...
    audio_path: Mapped[str | None] = mapped_column(String(1024))
    # The song's id in audio_service's index (catalog renderings and uploads).
    audio_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # MSD itself lists this song's song->track match as wrong: the name may belong to another recording.
    metadata_uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    metadata_note: Mapped[str | None] = mapped_column(String(512))
    # Comma-separated metadata fields an admin edited: imports never change them.
    edited_fields: Mapped[str | None] = mapped_column(String(255))
    # Last change of the metadata (import, admin edit): the search index rebuilds when it moves.
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, server_default=func.now())

    __table_args__ = (Index("ix_songs_source", "source"), Index("ix_songs_artist", "artist", mysql_length=191))


class LibraryFile(Base):
    """One audio file of the music folder and the song it plays (scan-library).

    A file that matched an MSD song plays that song (its row gets the file as ``audio_path``); any other is a
    song of its own (source ``library``). The song row, and its plays, ratings and likes, outlive the file:
    a vanished file is marked ``missing`` and a moved one (same content hash) takes its song along.
    """

    __tablename__ = "library_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id"))
    path: Mapped[str] = mapped_column(String(1024))
    # sha256 of the path: unique and indexable on every backend (MySQL cannot index 1024 utf8mb4 characters).
    path_key: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="present")  # present | missing
    match_confidence: Mapped[float | None] = mapped_column(Float)  # the MSD match, None when none
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The file's own tags (the library view groups by them; an MSD match keeps the MSD's names on the song).
    title: Mapped[str | None] = mapped_column(String(512))
    artist: Mapped[str | None] = mapped_column(String(512))
    album: Mapped[str | None] = mapped_column(String(512))
    album_artist: Mapped[str | None] = mapped_column(String(512))
    track_no: Mapped[int | None] = mapped_column(SmallInteger)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    has_cover: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # accepted | ambiguous | none | confirmed | rejected; candidates: JSON [[msd_song_id, confidence], ...]
    match_status: Mapped[str | None] = mapped_column(String(16))
    match_candidates: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_library_files_hash", "content_hash"),
        Index("ix_library_files_song", "song_id"),
        Index("ix_library_files_match_status", "match_status"),
    )


class Play(Base):
    """Aggregated plays of one song by one user (imported listens and the app's own plays)."""

    __tablename__ = "plays"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(Integer)
    last_played_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("user_id", "song_id", name="uq_plays_user_song"),
        CheckConstraint("count >= 1", name="count_positive"),
        Index("ix_plays_song", "song_id"),
        Index("ix_plays_last_played", "last_played_at"),
    )


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("user_id", "song_id", name="uq_ratings_user_song"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_ratings_song", "song_id"),
    )


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    kind: Mapped[FeedbackKind] = mapped_column(
        Enum(FeedbackKind, name="feedback_kind", native_enum=False, length=16, validate_strings=True)
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "song_id", name="uq_feedback_user_song"),)


class UserSession(Base):
    """A login: the random token lives only in the browser (cookie) or API client; we keep its SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_sessions_user", "user_id"), Index("ix_sessions_expires", "expires_at"))


class ScrobbleToken(Base):
    """A user's ListenBrainz-style token for players that send their plays (``Authorization: Token …``).

    Only the SHA-256 is kept; the token is shown once, when it is created. Revoking deletes the row.
    """

    __tablename__ = "scrobble_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_scrobble_tokens_user", "user_id"),)


class PlayEvent(Base):
    """One play recorded by the app, with its time: the 'recent' charts count these."""

    __tablename__ = "play_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(Integer, default=1)
    played_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    played_ms: Mapped[int | None] = mapped_column(Integer)  # how long the player played it, when it said

    __table_args__ = (
        CheckConstraint("count >= 1", name="count_positive"),
        Index("ix_play_events_played_at", "played_at"),
        Index("ix_play_events_song", "song_id"),
        Index("ix_play_events_user_played", "user_id", "played_at"),
    )


class AppCredential(Base):
    """A credential for Subsonic apps: an app password (token authentication) or an API key.

    An app password must be readable by the server (the token is md5(password + salt)), so it is kept
    encrypted with the server's CREDENTIALS_SECRET (``secret_encrypted``, Fernet); an API key is only
    compared, so only its SHA-256 is kept (``key_hash``). Both are shown once, when created; revoking
    deletes the row, so the next request with it fails.
    """

    __tablename__ = "app_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # password | api_key
    name: Mapped[str] = mapped_column(String(64))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_app_credentials_user", "user_id"),)


class Playlist(Base):
    """A user's playlist (the web page and Subsonic apps share it); ``items`` are its songs in order."""

    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(String(1024))
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_playlists_user", "user_id"),)


class PlaylistItem(Base):
    __tablename__ = "playlist_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))

    __table_args__ = (Index("ix_playlist_items_playlist", "playlist_id", "position"),)


class PlayQueue(Base):
    """What a user's app was playing (``savePlayQueue``), so another app can take over."""

    __tablename__ = "play_queues"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    song_ids: Mapped[str] = mapped_column(Text)  # JSON list of song ids, in order
    current_song_id: Mapped[int | None] = mapped_column(Integer)
    position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(128))


class Star(Base):
    """A starred album or artist (Subsonic ``star``); a starred song is a like (:class:`Feedback`)."""

    __tablename__ = "stars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # album | artist
    item_key: Mapped[str] = mapped_column(String(64))  # the Subsonic id (al-… / ar-…)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "kind", "item_key", name="uq_stars_user_item"),)


class SkipEvent(Base):
    """A song the listener skipped early (in its first 30 s): a negative signal, never a play."""

    __tablename__ = "skip_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id", ondelete="CASCADE"))
    played_ms: Mapped[int] = mapped_column(Integer, default=0)
    skipped_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_skip_events_user_skipped", "user_id", "skipped_at"),)


class Exclusion(Base):
    """A listener's rule keeping an artist, a genre or a tag out of every list (``value_key``: casefolded)."""

    __tablename__ = "exclusions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # artist | genre | tag
    value: Mapped[str] = mapped_column(String(255))
    value_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "kind", "value_key", name="uq_exclusions_user_rule"),)
