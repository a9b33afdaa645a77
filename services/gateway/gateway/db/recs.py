"""What recommendations need from the database: a user's taste profile and id mappings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.taste import (
    BAD_RATING_WEIGHT,
    DISLIKE_WEIGHT,
    LIKE_WEIGHT,
    SKIP_MEMORY_DAYS,
    SKIP_WEIGHT,
    Rules,
    Signal,
)
from gateway.db.export import cf_song_key, parse_cf_song_key
from gateway.db.models import Exclusion, Feedback, FeedbackKind, Play, PlayEvent, Rating, SkipEvent, Song, User, utcnow

RECENT_AUDIO_SEEDS = 5


@dataclass
class Profile:
    """A user's listening state, as the recommenders see it.

    Attributes:
        msd_user_id: the listener id in the training data, if the account is one.
        history: (msd_song_id, weight) pairs for cf fold-in: plays, plus likes and good ratings.
        seen: gateway song ids never to recommend again (played or disliked).
        app_activity: True once the user has played, rated or liked anything in the app; the
            precomputed list (trained on the imported history) is then stale and fold-in is used.
        audio_seeds: (song id, audio id, title) of the most recent plays that have audio.
        signals: skips, likes, dislikes and bad ratings, for :class:`gateway.core.taste.Taste`.
        rules: the listener's exclusion rules.
        stamp: changes whenever any of the above changes; part of the cache key.
    """

    msd_user_id: str | None
    history: list[tuple[str, float]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    app_activity: bool = False
    audio_seeds: list[tuple[int, str, str]] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)
    stamp: str = ""

    @property
    def disliked(self) -> set[int]:
        """Songs disliked or rated badly: never in any of the listener's lists again."""
        return {s.song_id for s in self.signals if not s.fades and s.weight < 0}


def load_profile(session: Session, user_id: int) -> Profile:
    msd_user_id = session.execute(select(User.msd_user_id).where(User.id == user_id)).scalar_one_or_none()
    weights: dict[int, float] = {}
    msd_of: dict[int, str | None] = {}
    seen: set[int] = set()
    for song_id, msd_id, count in session.execute(
        select(Play.song_id, Song.msd_song_id, Play.count)
        .join(Song, Song.id == Play.song_id)
        .where(Play.user_id == user_id)
    ):
        weights[song_id] = float(count)
        msd_of[song_id] = msd_id
        seen.add(song_id)
    ratings = session.execute(
        select(Rating.song_id, Song.msd_song_id, Rating.rating, Rating.updated_at, Song.artist)
        .join(Song, Song.id == Rating.song_id)
        .where(Rating.user_id == user_id)
    ).all()
    feedback = session.execute(
        select(Feedback.song_id, Song.msd_song_id, Feedback.kind, Feedback.created_at, Song.artist)
        .join(Song, Song.id == Feedback.song_id)
        .where(Feedback.user_id == user_id)
    ).all()
    # A good rating or a like counts like a few plays; a bad rating or a dislike removes the song's pull.
    for song_id, msd_id, rating, _, _ in ratings:
        msd_of[song_id] = msd_id
        if rating >= 4:
            weights[song_id] = weights.get(song_id, 0.0) + (rating - 2)
        elif rating <= 2:
            weights.pop(song_id, None)
            seen.add(song_id)
    for song_id, msd_id, kind, _, _ in feedback:
        msd_of[song_id] = msd_id
        if kind == FeedbackKind.like:
            weights[song_id] = weights.get(song_id, 0.0) + 3
        else:
            weights.pop(song_id, None)
            seen.add(song_id)
    # Songs are named as the collaborative filter knows them: MSD id, else ``gw:<id>``.
    history = [(cf_song_key(s, msd_of.get(s)), w) for s, w in weights.items() if w > 0]
    last_event = session.execute(select(func.max(PlayEvent.id), func.count()).where(PlayEvent.user_id == user_id)).one()
    seeds = session.execute(
        select(Song.id, Song.audio_id, Song.title, func.max(PlayEvent.played_at).label("last"))
        .join(Song, Song.id == PlayEvent.song_id)
        .where(PlayEvent.user_id == user_id, Song.audio_id.is_not(None))
        .group_by(Song.id, Song.audio_id, Song.title)
        .order_by(func.max(PlayEvent.played_at).desc())
        .limit(RECENT_AUDIO_SEEDS)
    ).all()
    stamp = user_stamp(session, user_id)
    signals = load_signals(session, user_id, ratings, feedback)
    return Profile(
        msd_user_id=msd_user_id,
        history=history,
        seen=seen,
        app_activity=bool(last_event[1] or ratings or feedback),
        audio_seeds=[(s[0], str(s[1]), s[2] or "this song") for s in seeds],
        signals=signals,
        rules=load_rules(session, user_id),
        stamp=stamp,
    )


def load_signals(session: Session, user_id: int, ratings: Sequence[Any], feedback: Sequence[Any]) -> list[Signal]:
    """Early skips of the last :data:`SKIP_MEMORY_DAYS` (fading), likes, dislikes and bad ratings (staying)."""
    since = utcnow() - dt.timedelta(days=SKIP_MEMORY_DAYS)
    skips = session.execute(
        select(SkipEvent.song_id, Song.artist, SkipEvent.skipped_at)
        .join(Song, Song.id == SkipEvent.song_id)
        .where(SkipEvent.user_id == user_id, SkipEvent.skipped_at >= since)
    ).all()
    out = [Signal(song_id, artist, SKIP_WEIGHT, at, fades=True) for song_id, artist, at in skips]
    for song_id, _, kind, at, artist in feedback:
        out.append(Signal(song_id, artist, LIKE_WEIGHT if kind == FeedbackKind.like else DISLIKE_WEIGHT, at))
    for song_id, _, rating, at, artist in ratings:
        if rating <= 2:
            out.append(Signal(song_id, artist, BAD_RATING_WEIGHT, at))
    return out


def load_rules(session: Session, user_id: int) -> Rules:
    rows = session.execute(select(Exclusion.kind, Exclusion.value).where(Exclusion.user_id == user_id)).all()
    return Rules.of((kind, value) for kind, value in rows)


def user_stamp(session: Session, user_id: int) -> str:
    """Changes whenever the user plays, rates or gives feedback: three indexed aggregates, no rows loaded."""
    events = session.execute(select(func.max(PlayEvent.id)).where(PlayEvent.user_id == user_id)).scalar()
    ratings = session.execute(select(func.count(), func.max(Rating.updated_at)).where(Rating.user_id == user_id)).one()
    feedback = session.execute(
        select(func.count(), func.max(Feedback.created_at)).where(Feedback.user_id == user_id)
    ).one()
    skips = session.execute(select(func.max(SkipEvent.id)).where(SkipEvent.user_id == user_id)).scalar()
    rules = session.execute(select(func.count(), func.max(Exclusion.id)).where(Exclusion.user_id == user_id)).one()
    raw = f"{events or 0}.{ratings[0]}.{ratings[1]}.{feedback[0]}.{feedback[1]}.{skips or 0}.{rules[0]}.{rules[1]}"
    return raw.replace(" ", "T")


def songs_by_cf_keys(session: Session, keys: Iterable[str]) -> dict[str, Song]:
    """Songs by the collaborative filter's song keys (MSD ids and ``gw:<id>``)."""
    keys = set(keys)
    ids = {k: parse_cf_song_key(k) for k in keys}
    by_msd, _, by_id = songs_by_keys(
        session, [k for k, i in ids.items() if i is None], (), [i for i in ids.values() if i is not None]
    )
    out = dict(by_msd)
    out.update({f"gw:{i}": song for i, song in by_id.items()})
    return out


def songs_by_keys(
    session: Session, msd_ids: Iterable[str] = (), audio_ids: Iterable[str] = (), ids: Iterable[int] = ()
) -> tuple[dict[str, Song], dict[str, Song], dict[int, Song]]:
    """Songs by MSD song id, by audio id and by gateway id (one query each, in batches)."""
    by_msd: dict[str, Song] = {}
    by_audio: dict[str, Song] = {}
    by_id: dict[int, Song] = {}

    def batched(values: Sequence[object]) -> Iterable[Sequence[object]]:
        for start in range(0, len(values), 500):
            yield values[start : start + 500]

    for part in batched(sorted(set(msd_ids))):
        for song in session.execute(select(Song).where(Song.msd_song_id.in_(part))).scalars():
            by_msd[song.msd_song_id or ""] = song
    for part in batched(sorted(set(audio_ids))):
        for song in session.execute(select(Song).where(Song.audio_id.in_(part))).scalars():
            by_audio[song.audio_id or ""] = song
    for part in batched(sorted(set(ids))):
        for song in session.execute(select(Song).where(Song.id.in_(part))).scalars():
            by_id[song.id] = song
    return by_msd, by_audio, by_id


REDISCOVER_MIN_PLAYS = 2


def rediscover_candidates(session: Session, user_id: int, quiet_days: int, limit: int) -> list[int]:
    """Songs the listener liked or played often (at least :data:`REDISCOVER_MIN_PLAYS` times) and has not played in
    ``quiet_days`` days (imported listens have no time: they count as long ago), most played first."""
    since = utcnow() - dt.timedelta(days=quiet_days)
    quiet = (Play.last_played_at.is_(None)) | (Play.last_played_at < since)
    played = session.execute(
        select(Play.song_id, Play.count)
        .where(Play.user_id == user_id, Play.count >= REDISCOVER_MIN_PLAYS, quiet)
        .order_by(Play.count.desc(), Play.song_id)
        .limit(limit)
    ).all()
    recent = set(
        session.execute(select(Play.song_id).where(Play.user_id == user_id, Play.last_played_at >= since)).scalars()
    )
    liked = session.execute(
        select(Feedback.song_id)
        .where(Feedback.user_id == user_id, Feedback.kind == FeedbackKind.like)
        .order_by(Feedback.created_at.desc())
        .limit(limit)
    ).scalars()
    out = [int(s) for s, _ in played]
    out += [int(s) for s in liked if s not in recent and s not in out]
    return out[:limit]


def played_since(session: Session, user_id: int, days: float) -> set[int]:
    """Songs the listener played in the last ``days`` days (held back from radio for a while)."""
    since = utcnow() - dt.timedelta(days=days)
    return set(
        session.execute(
            select(PlayEvent.song_id).where(PlayEvent.user_id == user_id, PlayEvent.played_at >= since).distinct()
        ).scalars()
    )
