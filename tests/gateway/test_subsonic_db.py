"""The Subsonic apps' data layer on SQLite, PostgreSQL and MariaDB: app credentials, playlists, the play queue,
stars of albums and artists."""

from __future__ import annotations

import pytest
from gateway.core.credentials import Vault, key_hash
from gateway.db import app_credentials, playlists
from gateway.db.models import AppCredential, Song, SongSource, User
from gateway.db.session import make_engine
from sqlalchemy import select
from sqlalchemy.orm import Session


def _setup(url: str) -> tuple[Session, int, int, list[int]]:
    engine = make_engine(url)
    db = Session(engine)
    alice, bob = User(username="alice"), User(username="bob")
    db.add_all([alice, bob])
    db.add_all(Song(source=SongSource.library, title=f"Song {i}", artist="A") for i in range(5))
    db.commit()
    songs = [int(i) for i in db.execute(select(Song.id).order_by(Song.id)).scalars()]
    return db, alice.id, bob.id, songs


def test_app_credentials_are_sealed_or_hashed_and_revocable(migrated_url: str) -> None:
    db, alice, _, _ = _setup(migrated_url)
    vault = Vault("a-server-secret")
    row, password = app_credentials.create(db, alice, "password", "phone", vault)
    key_row, key = app_credentials.create(db, alice, "api_key", "desk", vault)
    stored = db.execute(select(AppCredential.secret_encrypted, AppCredential.key_hash).order_by(AppCredential.id)).all()
    assert stored[0][0] and password not in stored[0][0] and stored[0][1] is None
    assert stored[1] == (None, key_hash(key))
    user, opened = app_credentials.app_passwords(db, "ALICE", vault)
    assert user is not None and user.id == alice and opened == [(row.id, password)]
    assert app_credentials.app_passwords(db, "alice", Vault("another-secret"))[1] == []  # unreadable: left out
    found = app_credentials.user_for_api_key(db, key)
    assert found is not None and found.id == alice
    first_use = db.get(AppCredential, key_row.id).last_used_at  # type: ignore[union-attr]
    app_credentials.touch(db, key_row.id)  # within the minute: not written again
    db.expire_all()
    assert first_use is not None and db.get(AppCredential, key_row.id).last_used_at == first_use  # type: ignore[union-attr]
    assert app_credentials.revoke(db, alice, key_row.id) and app_credentials.user_for_api_key(db, key) is None
    assert not app_credentials.revoke(db, alice, key_row.id)
    db.close()


def test_playlists_queue_and_stars_in_one_transaction_each(migrated_url: str) -> None:
    db, alice, bob, songs = _setup(migrated_url)
    pid = playlists.create(db, alice, "Mix", songs[:3])
    playlists.update(db, alice, pid, name="Better mix", add=[songs[4]], remove_positions=[0], public=True)
    view = playlists.get(db, bob, pid)  # public: others may read it
    assert view.playlist.name == "Better mix" and view.song_ids == [songs[1], songs[2], songs[4]]
    with pytest.raises(playlists.PlaylistError) as err:
        playlists.update(db, bob, pid, name="mine now")
    assert err.value.kind == "forbidden"
    db.rollback()
    with pytest.raises(playlists.PlaylistError):
        playlists.update(db, alice, pid, add=[songs[0], 999_999])  # one unknown song: nothing changes
    db.rollback()
    assert playlists.get(db, alice, pid).song_ids == [songs[1], songs[2], songs[4]]
    with pytest.raises(playlists.PlaylistError):
        playlists.create(db, alice, "broken", [songs[0], 999_999])
    db.rollback()
    assert [v.playlist.name for v in playlists.visible(db, alice)] == ["Better mix"]
    playlists.save_queue(db, alice, songs[:2], songs[1], 1234, "app")
    playlists.save_queue(db, alice, songs[2:4], None, 0, "other app")
    queue = playlists.get_queue(db, alice)
    assert queue is not None and queue.song_ids == songs[2:4] and queue.changed_by == "other app"
    playlists.save_queue(db, alice, [], None, 0, "app")
    assert playlists.get_queue(db, alice) is None
    playlists.set_stars(db, alice, "album", ["al-1", "al-2"], True)
    playlists.set_stars(db, alice, "album", ["al-1"], True)  # starring again keeps one row
    playlists.set_stars(db, alice, "album", ["al-2"], False)
    from gateway.db.models import Star

    assert [s.item_key for s in db.execute(select(Star)).scalars()] == ["al-1"]
    playlists.remove(db, alice, pid)
    with pytest.raises(playlists.PlaylistError):
        playlists.get(db, alice, pid)
    db.close()
