"""Playlists: one model for the web page and Subsonic apps (a user's named, ordered list of songs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from gateway.db.models import Playlist, PlaylistItem, PlayQueue, Song, Star, utcnow
from gateway.db.retry import run_transaction

MAX_PLAYLISTS = 1000  # per user
MAX_ITEMS = 10_000  # per playlist


class PlaylistError(Exception):
    """A playlist request that cannot be done: ``kind`` is ``not_found``, ``forbidden`` or ``too_many``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class PlaylistView:
    playlist: Playlist
    owner: str
    song_ids: list[int]


def _songs(session: Session, playlist_id: int) -> list[int]:
    rows = session.execute(
        select(PlaylistItem.song_id).where(PlaylistItem.playlist_id == playlist_id).order_by(PlaylistItem.position)
    )
    return [int(r[0]) for r in rows]


def _existing(session: Session, song_ids: Sequence[int]) -> None:
    wanted = set(song_ids)
    if not wanted:
        return
    found = {int(r[0]) for r in session.execute(select(Song.id).where(Song.id.in_(wanted)))}
    missing = sorted(wanted - found)
    if missing:
        raise PlaylistError("not_found", f"no song {missing[0]}")


def _write_items(session: Session, playlist_id: int, song_ids: Sequence[int]) -> None:
    if len(song_ids) > MAX_ITEMS:
        raise PlaylistError("too_many", f"a playlist holds at most {MAX_ITEMS} songs")
    session.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist_id))
    session.add_all(PlaylistItem(playlist_id=playlist_id, position=i, song_id=s) for i, s in enumerate(song_ids))


def _owned(session: Session, user_id: int, playlist_id: int, *, admin: bool = False) -> Playlist:
    playlist = session.get(Playlist, playlist_id)
    if playlist is None:
        raise PlaylistError("not_found", f"no playlist {playlist_id}")
    if playlist.user_id != user_id and not admin:
        raise PlaylistError("forbidden", "only its owner may change a playlist")
    return playlist


def visible(session: Session, user_id: int) -> list[PlaylistView]:
    """The user's playlists and other users' public ones, by name."""
    from gateway.db.models import User

    rows = session.execute(
        select(Playlist, User.username)
        .join(User, User.id == Playlist.user_id)
        .where(or_(Playlist.user_id == user_id, Playlist.public.is_(True)))
        .order_by(Playlist.name, Playlist.id)
    ).all()
    return [PlaylistView(p, str(owner), _songs(session, p.id)) for p, owner in rows]


def get(session: Session, user_id: int, playlist_id: int) -> PlaylistView:
    from gateway.db.models import User

    row = session.execute(
        select(Playlist, User.username).join(User, User.id == Playlist.user_id).where(Playlist.id == playlist_id)
    ).first()
    if row is None or (row[0].user_id != user_id and not row[0].public):
        raise PlaylistError("not_found", f"no playlist {playlist_id}")
    return PlaylistView(row[0], str(row[1]), _songs(session, playlist_id))


def create(session: Session, user_id: int, name: str, song_ids: Sequence[int]) -> int:
    """A new playlist holding ``song_ids`` in order; its id. One transaction."""

    def work(s: Session) -> int:
        count = len(s.execute(select(Playlist.id).where(Playlist.user_id == user_id)).all())
        if count >= MAX_PLAYLISTS:
            raise PlaylistError("too_many", f"at most {MAX_PLAYLISTS} playlists")
        _existing(s, song_ids)
        now = utcnow()
        playlist = Playlist(user_id=user_id, name=name, created_at=now, updated_at=now)
        s.add(playlist)
        s.flush()
        _write_items(s, playlist.id, song_ids)
        return int(playlist.id)

    return run_transaction(session, work)


def replace_songs(session: Session, user_id: int, playlist_id: int, song_ids: Sequence[int]) -> None:
    def work(s: Session) -> None:
        playlist = _owned(s, user_id, playlist_id)
        _existing(s, song_ids)
        _write_items(s, playlist_id, song_ids)
        playlist.updated_at = utcnow()

    run_transaction(session, work)


def update(
    session: Session,
    user_id: int,
    playlist_id: int,
    *,
    name: str | None = None,
    comment: str | None = None,
    public: bool | None = None,
    add: Sequence[int] = (),
    remove_positions: Sequence[int] = (),
) -> None:
    """Rename, describe, share, append songs and remove songs by their position (0-based), in one transaction."""

    def work(s: Session) -> None:
        playlist = _owned(s, user_id, playlist_id)
        if name is not None:
            playlist.name = name
        if comment is not None:
            playlist.comment = comment
        if public is not None:
            playlist.public = public
        if add or remove_positions:
            songs = _songs(s, playlist_id)
            gone = set(remove_positions)
            if any(not 0 <= i < len(songs) for i in gone):
                raise PlaylistError("not_found", f"the playlist has {len(songs)} songs: no such position")
            _existing(s, add)
            _write_items(s, playlist_id, [sid for i, sid in enumerate(songs) if i not in gone] + list(add))
        playlist.updated_at = utcnow()

    run_transaction(session, work)


def remove(session: Session, user_id: int, playlist_id: int, *, admin: bool = False) -> None:
    def work(s: Session) -> None:
        _owned(s, user_id, playlist_id, admin=admin)
        s.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == playlist_id))
        s.execute(delete(Playlist).where(Playlist.id == playlist_id))

    run_transaction(session, work)


# --- the play queue and stars of albums and artists --------------------------------------------------------


@dataclass
class Queue:
    song_ids: list[int]
    current: int | None
    position_ms: int
    changed_at: object
    changed_by: str


def get_queue(session: Session, user_id: int) -> Queue | None:
    row = session.get(PlayQueue, user_id)
    if row is None:
        return None
    return Queue(json.loads(row.song_ids), row.current_song_id, int(row.position_ms), row.changed_at, row.changed_by)


def save_queue(
    session: Session, user_id: int, song_ids: Sequence[int], current: int | None, position_ms: int, client: str
) -> None:
    """Replace the user's play queue (an empty list clears it). One transaction."""

    def work(s: Session) -> None:
        _existing(s, song_ids)
        row = s.get(PlayQueue, user_id)
        if not song_ids:
            if row is not None:
                s.delete(row)
            return
        if row is None:
            row = PlayQueue(user_id=user_id)
            s.add(row)
        row.song_ids = json.dumps(list(song_ids))
        row.current_song_id = current
        row.position_ms = position_ms
        row.changed_at = utcnow()
        row.changed_by = client[:128]

    run_transaction(session, work)


def set_stars(session: Session, user_id: int, kind: str, keys: Sequence[str], starred: bool) -> None:
    def work(s: Session) -> None:
        for key in keys:
            s.execute(delete(Star).where(Star.user_id == user_id, Star.kind == kind, Star.item_key == key))
            if starred:
                s.add(Star(user_id=user_id, kind=kind, item_key=key, created_at=utcnow()))

    run_transaction(session, work)
