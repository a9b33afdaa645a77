"""Migrations and the idempotent MSD import, on SQLite and (when configured) PostgreSQL and MariaDB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from gateway.db.importer import import_data
from gateway.db.migrate import downgrade, upgrade
from gateway.db.models import Base, Play, Song, SongSource, User
from gateway.db.session import make_engine
from musicrec_common.tasteprofile import TasteProfileError
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

DATA = Path(__file__).resolve().parents[2] / "data" / "msd"
TABLES = {"users", "songs", "plays", "ratings", "feedback", "sessions", "play_events"}


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            "users": conn.execute(select(func.count()).select_from(User)).scalar_one(),
            "songs": conn.execute(select(func.count()).select_from(Song)).scalar_one(),
            "plays": conn.execute(select(func.count()).select_from(Play)).scalar_one(),
            "play_total": conn.execute(select(func.coalesce(func.sum(Play.count), 0))).scalar_one(),
            "songs_listened": conn.execute(select(func.count(func.distinct(Play.song_id)))).scalar_one(),
        }
    engine.dispose()
    return {k: int(v) for k, v in out.items()}


def test_migrations_match_models_and_round_trip(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Index-length options are MySQL-only noise in the comparison; anything else is a real drift.
    assert [d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_index", "remove_index"))] == []
    downgrade(db_url)
    with engine.connect() as conn:
        assert not TABLES & set(inspect(conn).get_table_names())
    upgrade(db_url)
    engine.dispose()


def test_import_shipped_listens_exact_counts_and_idempotent(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    listens = [DATA / "listens_10000_head.tsv"]
    first = import_data(engine, songs_path=DATA / "songs.tsv", listens_paths=listens)
    assert first.listens_read == 42_739 and first.listens_inserted == 42_739
    assert first.users_in_files == 1_630 and first.users_created == 1_630
    assert first.songs_listened == 9_071
    assert first.songs_in_metadata == 33_129 and first.songs_created_from_metadata == 33_129
    assert first.songs_created_from_listens == 915  # listened songs without a metadata row
    after_first = counts(migrated_url)
    assert after_first == {
        "users": 1_630,
        "songs": 33_129 + 915,
        "plays": 42_739,
        "play_total": 129_149,
        "songs_listened": 9_071,
    }

    second = import_data(engine, songs_path=DATA / "songs.tsv", listens_paths=listens)
    assert second.listens_inserted == 0 and second.listens_existing == 42_739
    assert second.users_created == 0 and second.songs_created_from_metadata == 0
    assert second.songs_created_from_listens == 0
    assert second.songs_updated == 0 and second.fields_updated == 0
    assert counts(migrated_url) == after_first

    with engine.connect() as conn:
        source = conn.execute(select(Song.source).where(Song.msd_song_id == "SOAKIMP12A8C130995")).scalar_one()
        password = conn.execute(
            select(User.password_hash).where(User.msd_user_id == "b80344d063b5ccb3212f76538f3d9e43d87dca9e")
        ).one()
    assert source == SongSource.msd
    assert password == (None,)  # imported listeners cannot log in
    engine.dispose()


def test_rejected_import_leaves_nothing_behind(migrated_url: str, tmp_path: Path) -> None:
    good = "\n".join(f"user{i % 5}\tSONG{i}\t{i + 1}" for i in range(200))
    bad = tmp_path / "bad.tsv"
    bad.write_text("user_id\tsong_id\tplay_count\n" + good + "\nuserX\tSONGX\tlots\n")
    engine = make_engine(migrated_url)
    with pytest.raises(TasteProfileError) as info:
        import_data(engine, songs_path=DATA / "songs.tsv", listens_paths=[bad])
    assert info.value.line == 202
    assert counts(migrated_url) == {"users": 0, "songs": 0, "plays": 0, "play_total": 0, "songs_listened": 0}

    report = import_data(engine, songs_path=None, listens_paths=[bad], on_error="skip")
    assert report.listens_inserted == 200 and report.users_created == 5
    assert report.bad_lines == [
        {"file": str(bad), "line": 202, "reason": "play count 'lots' is not a positive integer"}
    ]
    engine.dispose()


def test_constraints_hold(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with engine.begin() as conn:
        conn.execute(User.__table__.insert(), [{"username": "a", "is_admin": False}])
        conn.execute(Song.__table__.insert(), [{"source": "msd", "msd_song_id": "S1"}])
    for bad_row in ({"user_id": 1, "song_id": 1, "count": 0}, {"user_id": 1, "song_id": 999, "count": 1}):
        # MariaDB reports a failed CHECK as an OperationalError (4025), the others as IntegrityError.
        with pytest.raises((IntegrityError, OperationalError)), engine.begin() as conn:
            conn.execute(Play.__table__.insert(), [bad_row])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(User.__table__.insert(), [{"username": "a", "is_admin": False}])
    engine.dispose()


def test_import_cli_reports_line_number(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.tsv"
    bad.write_text("user_id\tsong_id\tplay_count\nu1\ts1\t2\nu1\ts2\n")
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PATH": "/usr/bin:/bin",
    }
    run = [sys.executable, "-m", "gateway"]
    assert subprocess.run([*run, "migrate"], env=env, capture_output=True, check=False).returncode == 0
    result = subprocess.run(
        [*run, "import-data", "--no-songs", "--listens", str(bad)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "line 3: expected 3 tab-separated fields, found 2" in result.stderr
    assert "nothing written" in result.stderr


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_account_deletion_and_password_change_on_every_backend(migrated_url: str) -> None:
    """The transactions behind DELETE /api/me and POST /api/me/password, on SQLite, PostgreSQL and MariaDB
    (foreign keys are enforced on the last two: children must go before the user)."""
    import datetime as dt

    from gateway.core import security
    from gateway.db import accounts, listening
    from gateway.db.models import Feedback, FeedbackKind, PlayEvent, Rating, UserSession
    from sqlalchemy.orm import Session

    engine = make_engine(migrated_url)
    with Session(engine) as s:
        s.add_all([Song(source=SongSource.msd, msd_song_id=f"S{i}") for i in range(2)])
        s.commit()
        song_ids = list(s.execute(select(Song.id)).scalars())
        users = [accounts.create_user(s, name, "a-long-password").id for name in ("gone", "stays")]
        for uid in users:
            for sid in song_ids:
                listening.record_play(s, uid, sid, 2)
                listening.set_rating(s, uid, sid, 4)
                listening.set_feedback(s, uid, sid, FeedbackKind.like)
            accounts.start_session(s, uid, dt.timedelta(hours=1))
        first = accounts.start_session(s, users[0], dt.timedelta(hours=1))
        first_hash = security.token_hash(first.token)
        first_id = s.execute(select(UserSession.id).where(UserSession.token_hash == first_hash)).scalar_one()

    def owned(uid: int) -> dict[str, int]:
        with engine.connect() as conn:
            return {
                m.__tablename__: conn.execute(select(func.count()).select_from(m).where(m.user_id == uid)).scalar_one()
                for m in (Play, PlayEvent, Rating, Feedback, UserSession)
            }

    with Session(engine) as s:
        assert accounts.change_password(s, users[0], "wrong", "x" * 10, keep_session_id=first_id) is None
        ended = accounts.change_password(s, users[0], "a-long-password", "b-long-password", keep_session_id=first_id)
        assert ended is not None and len(ended) == 1 and first_hash not in ended
        assert accounts.authenticate(s, "gone", "b-long-password") is not None
    before = owned(users[0])
    assert all(before.values()), before
    with Session(engine) as s:
        assert accounts.delete_user(s, users[0], "a-long-password") is None  # the old password no longer works
    assert owned(users[0]) == before
    with Session(engine) as s:
        live = accounts.delete_user(s, users[0], "b-long-password")
    assert live == [first_hash]  # the one live session; the other was ended by the password change
    assert owned(users[0]) == dict.fromkeys(before, 0)
    assert all(owned(users[1]).values())  # the other account is untouched
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == 1
    engine.dispose()
