"""The database layer on every configured backend: atomic play upserts under concurrency, ratings, sessions."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from gateway.db import accounts, listening
from gateway.db.models import Feedback, FeedbackKind, Play, PlayEvent, Rating, Song, User
from gateway.db.session import make_engine, make_sessionmaker
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session


@pytest.fixture
def engine(migrated_url: str) -> Engine:
    eng = make_engine(migrated_url)
    with eng.begin() as conn:
        conn.execute(insert(User), [{"username": f"u{i}", "is_admin": False} for i in range(1, 4)])
        conn.execute(insert(Song), [{"source": "msd", "msd_song_id": f"S{i}", "title": f"t{i}"} for i in range(1, 4)])
    yield eng  # type: ignore[misc]
    eng.dispose()


def test_concurrent_first_plays_all_count(engine: Engine) -> None:
    """Threads race to create the same (user, song) row: every play is counted, none is lost."""
    maker = make_sessionmaker(engine)
    with engine.begin() as conn:
        conn.execute(insert(Song), [{"source": "msd", "msd_song_id": f"R{i}"} for i in range(8)])
        songs = [2, *conn.execute(select(Song.id).where(Song.msd_song_id.like("R%"))).scalars()]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for song_id in songs:  # each round: six first plays of a song nobody has played yet
                barrier.wait()
                with maker() as session:
                    listening.record_play(session, 1, song_id, 1)
            for _ in range(4):
                with maker() as session:
                    listening.record_play(session, 1, 2, 1)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        counts = dict(conn.execute(select(Play.song_id, Play.count).where(Play.user_id == 1)).all())
        events = conn.execute(select(func.count()).select_from(PlayEvent)).scalar_one()
    assert counts == {song_id: 6 for song_id in songs} | {2: 30}
    assert events == 6 * len(songs) + 24


def test_play_upsert_adds_and_unknown_song_writes_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        assert listening.record_play(session, 1, 1, 2).total == 2
        assert listening.record_play(session, 1, 1, 3).total == 5
        assert listening.record_play(session, 2, 1, 1).total == 1
        with pytest.raises(listening.SongNotFound):
            listening.record_play(session, 1, 999, 1)
    with engine.connect() as conn:
        rows = conn.execute(select(Play.user_id, Play.song_id, Play.count).order_by(Play.user_id)).all()
        events = conn.execute(select(func.count(), func.sum(PlayEvent.count)).select_from(PlayEvent)).one()
    assert [tuple(r) for r in rows] == [(1, 1, 5), (2, 1, 1)]
    assert tuple(events) == (3, 6)


def test_ratings_and_feedback_upsert(engine: Engine) -> None:
    with Session(engine) as session:
        listening.set_rating(session, 1, 1, 3)
        listening.set_rating(session, 1, 1, 5)
        listening.set_rating(session, 2, 1, 1)
        listening.set_feedback(session, 1, 1, FeedbackKind.like)
        listening.set_feedback(session, 1, 1, FeedbackKind.dislike)
        assert listening.remove(session, Rating, 2, 1) is True
        assert listening.remove(session, Rating, 2, 1) is False
        total, items = listening.history(session, 1, "ratings", offset=0, limit=10)
        assert total == 1 and items[0][1]["rating"] == 5
    with engine.connect() as conn:
        assert conn.execute(select(Rating.user_id, Rating.rating)).all() == [(1, 5)]
        assert conn.execute(select(Feedback.kind)).scalars().all() == [FeedbackKind.dislike]


def test_sessions_expire_and_revoke(engine: Engine) -> None:
    with Session(engine) as session:
        user = accounts.create_user(session, "Zoe", "long-password-1")
        assert accounts.authenticate(session, "zoe", "long-password-1") is not None
        assert accounts.authenticate(session, "zoe", "wrong-password") is None
        new = accounts.start_session(session, user.id, dt.timedelta(hours=1))
        found = accounts.session_user(session, new.token)
        assert found is not None and found.username == "zoe"
        old = accounts.start_session(session, user.id, dt.timedelta(hours=1))
        session.execute(
            update(accounts.UserSession)
            .where(accounts.UserSession.id == found.session_id + 1)
            .values(expires_at=dt.datetime(2000, 1, 1))
        )
        session.commit()
        assert accounts.session_user(session, old.token) is None
        assert accounts.revoke_session(session, new.token) is True
        assert accounts.session_user(session, new.token) is None
        assert accounts.revoke_session(session, new.token) is False
        with pytest.raises(accounts.UsernameTaken):
            accounts.create_user(session, "ZOE", "long-password-1")
