"""A user's plays, ratings and likes: atomic upserts that are safe under concurrent requests.

Every write is ``UPDATE ... SET x = x + :n`` first (the common case, and atomic
in every backend); when no row exists yet the INSERT runs in a savepoint, and
if a concurrent request inserted the same (user, song) first, the unique
constraint rejects ours and we update the row that won. Transactions that lose
a deadlock (MySQL) or a lock (SQLite) are run again from the start
(:func:`gateway.db.retry.run_transaction`). Each function commits before it
returns, so the caller acknowledges only what is durable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.db.models import Feedback, FeedbackKind, Play, PlayEvent, Rating, SkipEvent, Song, utcnow
from gateway.db.retry import run_transaction


class SongNotFound(Exception):
    def __init__(self, song_id: int) -> None:
        super().__init__(f"song {song_id} not found")
        self.song_id = song_id


@dataclass(frozen=True)
class PlayResult:
    song_id: int
    total: int  # the user's plays of this song after this one
    played_at: dt.datetime


def _require_song(session: Session, song_id: int) -> None:
    if session.execute(select(Song.id).where(Song.id == song_id)).scalar_one_or_none() is None:
        raise SongNotFound(song_id)


def _upsert(session: Session, model: Any, key: dict[str, int], changes: dict[str, Any], new: dict[str, Any]) -> None:
    """UPDATE the (user, song) row with ``changes``; INSERT ``key | new`` when there is none."""
    where: list[ColumnElement[bool]] = [getattr(model, k) == v for k, v in key.items()]
    stmt = update(model).where(*where).values(**changes).execution_options(synchronize_session=False)
    if session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.execute(insert(model).values(**key, **new))
    except IntegrityError:
        # Lost the insert race: the row exists now (the unique constraint said so), add to it.
        if not session.execute(stmt).rowcount:  # type: ignore[attr-defined]
            raise


def record_play(session: Session, user_id: int, song_id: int, n: int = 1, played_ms: int | None = None) -> PlayResult:
    """Add ``n`` plays: the aggregate row (count += n) and one timestamped event (with how long the player played
    it, when it said), in one transaction."""

    def work(s: Session) -> PlayResult:
        _require_song(s, song_id)
        now = utcnow()
        _upsert(
            s,
            Play,
            {"user_id": user_id, "song_id": song_id},
            {"count": Play.count + n, "last_played_at": now},
            {"count": n, "last_played_at": now},
        )
        s.execute(
            insert(PlayEvent).values(user_id=user_id, song_id=song_id, count=n, played_at=now, played_ms=played_ms)
        )
        total = s.execute(select(Play.count).where(Play.user_id == user_id, Play.song_id == song_id)).scalar_one()
        return PlayResult(song_id, int(total), now)

    return run_transaction(session, work)


def record_skip(session: Session, user_id: int, song_id: int, played_ms: int | None) -> PlayResult:
    """An early skip: one skip event, no play (the play count stays what it was)."""

    def work(s: Session) -> PlayResult:
        _require_song(s, song_id)
        now = utcnow()
        s.execute(insert(SkipEvent).values(user_id=user_id, song_id=song_id, played_ms=played_ms or 0, skipped_at=now))
        total = s.execute(select(Play.count).where(Play.user_id == user_id, Play.song_id == song_id)).scalar()
        return PlayResult(song_id, int(total or 0), now)

    return run_transaction(session, work)


def set_rating(session: Session, user_id: int, song_id: int, rating: int) -> dt.datetime:
    """Create or replace the user's rating of a song; returns its time."""

    def work(s: Session) -> dt.datetime:
        _require_song(s, song_id)
        now = utcnow()
        _upsert(
            s,
            Rating,
            {"user_id": user_id, "song_id": song_id},
            {"rating": rating, "updated_at": now},
            {"rating": rating, "updated_at": now},
        )
        return now

    return run_transaction(session, work)


def set_feedback(session: Session, user_id: int, song_id: int, kind: FeedbackKind) -> dt.datetime:
    """Like or dislike (one of the two per song; the latest wins)."""

    def work(s: Session) -> dt.datetime:
        _require_song(s, song_id)
        now = utcnow()
        values = {"kind": kind, "created_at": now}
        _upsert(s, Feedback, {"user_id": user_id, "song_id": song_id}, values, values)
        return now

    return run_transaction(session, work)


def remove(session: Session, model: type[Rating] | type[Feedback], user_id: int, song_id: int) -> bool:
    """Delete the user's rating or feedback of a song; True when there was one."""

    def work(s: Session) -> bool:
        _require_song(s, song_id)
        result = s.execute(
            delete(model)
            .where(model.user_id == user_id, model.song_id == song_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return run_transaction(session, work)


def user_song_state(session: Session, user_id: int, song_id: int) -> dict[str, Any]:
    """What one user did with one song: plays, rating, like/dislike."""
    plays = session.execute(
        select(Play.count, Play.last_played_at).where(Play.user_id == user_id, Play.song_id == song_id)
    ).one_or_none()
    rating = session.execute(
        select(Rating.rating).where(Rating.user_id == user_id, Rating.song_id == song_id)
    ).scalar_one_or_none()
    kind = session.execute(
        select(Feedback.kind).where(Feedback.user_id == user_id, Feedback.song_id == song_id)
    ).scalar_one_or_none()
    return {
        "plays": int(plays[0]) if plays else 0,
        "last_played_at": plays[1] if plays else None,
        "rating": rating,
        "feedback": kind.value if kind else None,
    }


HistoryKind = Literal["plays", "ratings", "feedback"]


def history(
    session: Session, user_id: int, kind: HistoryKind, *, offset: int, limit: int
) -> tuple[int, list[tuple[Song, dict[str, Any]]]]:
    """The user's plays, ratings or likes, most recent first, each with its song."""
    if kind == "plays":
        model: Any = Play
        # Imported listens have no time: they come after the app's own plays, biggest counts first.
        order: list[Any] = [
            Play.last_played_at.is_(None),
            Play.last_played_at.desc(),
            Play.count.desc(),
            Play.id.desc(),
        ]
        columns: list[Any] = [Play.count, Play.last_played_at]
        names = ["count", "last_played_at"]
    elif kind == "ratings":
        model = Rating
        order = [Rating.updated_at.desc(), Rating.id.desc()]
        columns = [Rating.rating, Rating.updated_at]
        names = ["rating", "updated_at"]
    else:
        model = Feedback
        order = [Feedback.created_at.desc(), Feedback.id.desc()]
        columns = [Feedback.kind, Feedback.created_at]
        names = ["kind", "created_at"]
    total = session.execute(select(func.count()).select_from(model).where(model.user_id == user_id)).scalar_one()
    rows = session.execute(
        select(Song, *columns)
        .join(model, model.song_id == Song.id)
        .where(model.user_id == user_id)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    ).all()
    items = []
    for song, *values in rows:
        item = dict(zip(names, values, strict=True))
        if isinstance(item.get("kind"), FeedbackKind):
            item["kind"] = item["kind"].value
        items.append((song, item))
    return int(total), items


def user_stats(session: Session, user_id: int) -> dict[str, int]:
    """Totals shown on the user's own page."""
    songs, plays = session.execute(
        select(func.count(), func.coalesce(func.sum(Play.count), 0)).where(Play.user_id == user_id)
    ).one()
    ratings = session.execute(select(func.count()).select_from(Rating).where(Rating.user_id == user_id)).scalar_one()
    likes = session.execute(
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.user_id == user_id, Feedback.kind == FeedbackKind.like)
    ).scalar_one()
    dislikes = session.execute(
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.user_id == user_id, Feedback.kind == FeedbackKind.dislike)
    ).scalar_one()
    return {
        "songs_played": int(songs),
        "plays": int(plays),
        "ratings": int(ratings),
        "likes": int(likes),
        "dislikes": int(dislikes),
    }
