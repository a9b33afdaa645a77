"""Catalog reads: songs by id, play statistics, charts, and the rows the search index is built from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import Session

from gateway.core.search import SongDoc
from gateway.db.models import Feedback, FeedbackKind, LibraryFile, Play, PlayEvent, Rating, Song, utcnow
from gateway.db.retry import run_transaction


def get_song(session: Session, song_id: int) -> Song | None:
    return session.get(Song, song_id)


def songs_by_id(session: Session, ids: Sequence[int]) -> dict[int, Song]:
    if not ids:
        return {}
    return {s.id: s for s in session.execute(select(Song).where(Song.id.in_(list(ids)))).scalars()}


EDITABLE = ("title", "artist", "release", "year", "genre")


def edit_song(session: Session, song_id: int, changes: dict[str, Any]) -> Song | None:
    """An admin's metadata edit: writes the fields and locks them against later imports (``edited_fields``)."""

    def work(s: Session) -> Song | None:
        song = s.get(Song, song_id)
        if song is None:
            return None
        locked = {f for f in (song.edited_fields or "").split(",") if f}
        for name, value in changes.items():
            if name not in EDITABLE:
                raise ValueError(f"{name} is not editable")
            setattr(song, name, value)
            locked.add(name)
        song.edited_fields = ",".join(sorted(locked)) or None
        song.updated_at = utcnow()
        s.flush()
        return song

    song = run_transaction(session, work)
    if song is not None:
        session.refresh(song)
    return song


def song_stats(session: Session, song_id: int, recent_days: int = 7) -> dict[str, Any]:
    """Plays (all time and recent), listeners, ratings and likes of one song."""
    plays, listeners = session.execute(
        select(func.coalesce(func.sum(Play.count), 0), func.count()).where(Play.song_id == song_id)
    ).one()
    recent = session.execute(
        select(func.coalesce(func.sum(PlayEvent.count), 0)).where(
            PlayEvent.song_id == song_id, PlayEvent.played_at >= utcnow() - dt.timedelta(days=recent_days)
        )
    ).scalar_one()
    avg, n_ratings = session.execute(
        select(func.avg(Rating.rating), func.count()).where(Rating.song_id == song_id)
    ).one()
    feedback = dict(
        session.execute(
            select(Feedback.kind, func.count()).where(Feedback.song_id == song_id).group_by(Feedback.kind)
        ).all()
    )
    return {
        "plays": int(plays),
        "plays_recent": int(recent),
        "recent_days": recent_days,
        "listeners": int(listeners),
        "rating_avg": round(float(avg), 2) if avg is not None else None,
        "rating_count": int(n_ratings),
        "likes": int(feedback.get(FeedbackKind.like, 0)),
        "dislikes": int(feedback.get(FeedbackKind.dislike, 0)),
    }


def untitled_last() -> Any:
    """SQL sort key: 0 for songs with a title and an artist, 1 for the rest (ties put named songs first)."""
    return case((and_(Song.title.is_not(None), Song.artist.is_not(None)), 0), else_=1)


def chart(session: Session, *, since: dt.datetime | None, n: int, library_only: bool = False) -> list[tuple[Song, int]]:
    """Most played songs: all time from the aggregated plays, or since a time from the play events.

    Equal totals list songs with a title and an artist first, so a visitor's first look is not a row of
    untitled MSD songs; otherwise the order is the play count's. ``library_only``: only songs a present file
    of the music folder plays.
    """
    if since is None:
        totals = select(Play.song_id, func.sum(Play.count).label("total")).group_by(Play.song_id)
    else:
        totals = (
            select(PlayEvent.song_id, func.sum(PlayEvent.count).label("total"))
            .where(PlayEvent.played_at >= since)
            .group_by(PlayEvent.song_id)
        )
    top = totals.subquery()
    query = select(Song, top.c.total).join(top, top.c.song_id == Song.id)
    if library_only:
        present = select(LibraryFile.song_id).where(LibraryFile.status == "present")
        query = query.where(Song.id.in_(present), Song.audio_path.is_not(None))
    ranked = session.execute(query.order_by(top.c.total.desc(), untitled_last(), Song.id).limit(n)).all()
    return [(song, int(count)) for song, count in ranked]


def catalog_signature(engine: Engine) -> tuple[int, int, str]:
    """(number of songs, largest id, latest metadata change): changes when songs are added, removed or renamed."""
    with engine.connect() as conn:
        count, top, changed = conn.execute(
            select(func.count(), func.coalesce(func.max(Song.id), 0), func.max(Song.updated_at))
        ).one()
    return int(count), int(top), str(changed)


def search_documents(engine: Engine) -> list[SongDoc]:
    """Every song with a searchable text, with its all-time plays as popularity."""
    plays = select(Play.song_id, func.sum(Play.count).label("n")).group_by(Play.song_id).subquery()
    query = (
        select(
            Song.id,
            Song.title,
            Song.artist,
            Song.release,
            Song.collection,
            Song.tags,
            Song.genre,
            Song.source,
            Song.msd_song_id,
            func.coalesce(plays.c.n, 0),
        )
        .outerjoin(plays, plays.c.song_id == Song.id)
        .execution_options(yield_per=10_000)
    )
    docs = []
    with engine.connect() as conn:
        for sid, title, artist, release, collection, tags, genre, source, msd_id, n in conn.execute(query):
            docs.append(
                SongDoc(
                    song_id=sid,
                    title=title,
                    artist=artist,
                    release=release,
                    collection=collection,
                    tags=" ".join(t for t in (genre, tags) if t) or None,
                    source=str(source.value if hasattr(source, "value") else source),
                    popularity=float(n),
                    msd_song_id=msd_id,
                )
            )
    return docs
