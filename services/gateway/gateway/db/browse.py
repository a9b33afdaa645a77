"""What Subsonic apps browse and the user's marks on it: reads only (see :mod:`gateway.core.browse`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.browse import Track
from gateway.db.library import playing_files
from gateway.db.models import Feedback, FeedbackKind, LibraryFile, Play, Rating, Song, SongSource, Star

SHIPPED = (SongSource.catalog, SongSource.upload)


def playable_tracks(session: Session) -> list[Track]:
    """Every song with audio: the music folder's present files (with their tags) and the shipped recordings."""
    tracks: list[Track] = []
    seen: set[int] = set()
    rows = session.execute(playing_files().order_by(LibraryFile.id)).all()
    for file, song in rows:
        if song.id in seen:
            continue
        seen.add(song.id)
        tracks.append(
            Track(
                id=song.id,
                title=file.title or song.title,
                artist=file.artist or song.artist,
                album=file.album or song.release,
                album_artist=file.album_artist,
                track_no=file.track_no,
                year=file.year or song.year,
                genre=song.genre,
                duration_s=song.duration_s,
                path=file.path,
                has_cover=bool(file.has_cover),
                added=file.scanned_at,
                msd_song_id=song.msd_song_id,
                audio_id=song.audio_id,
                from_library=True,
            )
        )
    shipped = session.execute(
        select(Song).where(Song.source.in_(SHIPPED), Song.audio_path.is_not(None)).order_by(Song.id)
    ).scalars()
    for song in shipped:
        if song.id in seen or not song.audio_path:
            continue
        tracks.append(
            Track(
                id=song.id,
                title=song.title,
                artist=song.artist,
                album=song.release or song.collection,
                album_artist=song.artist,
                track_no=None,
                year=song.year,
                genre=song.genre,
                duration_s=song.duration_s,
                path=song.audio_path,
                has_cover=False,
                added=song.created_at,
                msd_song_id=song.msd_song_id,
                audio_id=song.audio_id,
            )
        )
    return tracks


def fingerprint(session: Session) -> tuple[object, ...]:
    """Changes whenever what :func:`playable_tracks` returns may have changed (cheap: aggregates only)."""
    files = session.execute(
        select(func.count(LibraryFile.id), func.max(LibraryFile.id), func.max(LibraryFile.scanned_at)).where(
            LibraryFile.status == "present"
        )
    ).one()
    songs = session.execute(
        select(func.count(Song.id), func.max(Song.id), func.max(Song.updated_at)).where(Song.audio_path.is_not(None))
    ).one()
    return (*files, *songs)


@dataclass
class Marks:
    """One user's marks on songs, albums and artists: what apps show as stars, ratings and play counts."""

    liked: dict[int, dt.datetime] = field(default_factory=dict)
    disliked: set[int] = field(default_factory=set)
    ratings: dict[int, int] = field(default_factory=dict)
    plays: dict[int, int] = field(default_factory=dict)
    last_played: dict[int, dt.datetime] = field(default_factory=dict)
    stars: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)  # (kind, key) -> when


def user_marks(session: Session, user_id: int) -> Marks:
    marks = Marks()
    for song_id, feedback, when in session.execute(
        select(Feedback.song_id, Feedback.kind, Feedback.created_at).where(Feedback.user_id == user_id)
    ):
        if feedback == FeedbackKind.like:
            marks.liked[int(song_id)] = when
        else:
            marks.disliked.add(int(song_id))
    for song_id, rating in session.execute(select(Rating.song_id, Rating.rating).where(Rating.user_id == user_id)):
        marks.ratings[int(song_id)] = int(rating)
    for song_id, count, last in session.execute(
        select(Play.song_id, Play.count, Play.last_played_at).where(Play.user_id == user_id)
    ):
        marks.plays[int(song_id)] = int(count)
        if last is not None:
            marks.last_played[int(song_id)] = last
    for star_kind, key, when in session.execute(
        select(Star.kind, Star.item_key, Star.created_at).where(Star.user_id == user_id)
    ):
        marks.stars[(str(star_kind), str(key))] = when
    return marks
