"""What apps write and read back about the user: stars, ratings, scrobbles, now playing, playlists, play queue.

A starred song is a like and a rating is a rating, exactly as on the web page; a scrobble with
``submission=true`` is a play recorded through the same path as the web player's (:func:`write_for_user`), so
it feeds the recommendations and the charts; ``submission=false`` only says what is playing now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from gateway.app.deps import write_for_user
from gateway.app.subsonic.browse import child, find_song, iso, marks_of
from gateway.app.subsonic.protocol import Call, method
from gateway.core import subsonic as ss
from gateway.core.browse import Catalog
from gateway.db import listening, playlists
from gateway.db.listening import SongNotFound
from gateway.db.models import Feedback, FeedbackKind

T = TypeVar("T")
NOW_PLAYING_S = 600  # an entry of getNowPlaying is dropped after 10 minutes without news
_now_playing: dict[int, tuple[int, str, str, float]] = {}  # user id -> (song id, username, client, when)


async def _write(call: Call, work: Callable[[Session], T]) -> T:
    try:
        return await write_for_user(call.state, call.user_id, work)
    except SongNotFound as exc:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no song {exc.song_id}") from None
    except playlists.PlaylistError as exc:
        code = ss.NOT_AUTHORISED if exc.kind == "forbidden" else ss.NOT_FOUND if exc.kind == "not_found" else 0
        raise ss.SubsonicError(code, str(exc)) from None


async def _read(call: Call, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with call.state.sessions() as db:
            return work(db)

    try:
        return await run_in_threadpool(run)
    except playlists.PlaylistError as exc:
        raise ss.SubsonicError(ss.NOT_FOUND, str(exc)) from None


def _songs_in(catalog: Catalog, raws: list[str]) -> list[int]:
    """Song ids of the playable catalog; any other id is a 70."""
    return [find_song(catalog, raw)[0].id for raw in raws]


# --- stars and ratings --------------------------------------------------------------------------------------


async def _star(call: Call, starred: bool) -> ss.Answer:
    catalog = await call.state.browse.get()
    ids = call.all("id")
    # Folder-based apps send album and artist ids as `id` too.
    albums = call.all("albumId") + [s for s in ids if s in catalog.albums_by_id]
    artists = call.all("artistId") + [s for s in ids if s in catalog.artists]
    # Every id is checked before anything is written: a bad one in the list changes nothing.
    songs = _songs_in(catalog, [r for r in ids if r not in catalog.albums_by_id and r not in catalog.artists])
    if not (songs or albums or artists):
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "give id, albumId or artistId")
    for key in albums:
        if key not in catalog.albums_by_id:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no album {key[:64]!r}")
    for key in artists:
        if key not in catalog.artists:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no artist {key[:64]!r}")

    def work(db: Session) -> None:
        for sid in songs:
            if starred:
                listening.set_feedback(db, call.user_id, sid, FeedbackKind.like)
            else:
                state = listening.user_song_state(db, call.user_id, sid)
                if state.get("feedback") == FeedbackKind.like:
                    listening.remove(db, Feedback, call.user_id, sid)
        playlists.set_stars(db, call.user_id, "album", albums, starred)
        playlists.set_stars(db, call.user_id, "artist", artists, starred)

    await _write(call, work)
    return ss.Answer()


@method("star")
async def star(call: Call) -> ss.Answer:
    return await _star(call, True)


@method("unstar")
async def unstar(call: Call) -> ss.Answer:
    return await _star(call, False)


@method("setRating")
async def set_rating(call: Call) -> ss.Answer:
    sid = find_song(await call.state.browse.get(), call.required("id"))[0].id
    rating = call.optional_int("rating", 0, 5)
    if rating is None:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: rating")
    if rating == 0:
        await _write(call, lambda db: listening.remove(db, listening.Rating, call.user_id, sid))
    else:
        await _write(call, lambda db: listening.set_rating(db, call.user_id, sid, rating))
    return ss.Answer()


async def _starred(call: Call) -> ss.Node:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    songs = sorted((t for t, _ in catalog.songs.values() if t.id in marks.liked), key=lambda t: marks.liked[t.id])
    from gateway.app.subsonic.browse import album_node, artist_node

    return {
        "artist": [artist_node(a, marks) for a in catalog.artists.values() if ("artist", a.id) in marks.stars],
        "album": [album_node(a, marks) for a in catalog.albums if ("album", a.id) in marks.stars],
        "song": [child(t, catalog.songs[t.id][1], marks) for t in reversed(songs)],
    }


@method("getStarred2")
async def get_starred2(call: Call) -> ss.Answer:
    return ss.Answer({"starred2": await _starred(call)})


@method("getStarred")
async def get_starred(call: Call) -> ss.Answer:
    return ss.Answer({"starred": await _starred(call)})


# --- scrobbles and now playing -------------------------------------------------------------------------------


@method("scrobble")
async def scrobble(call: Call) -> ss.Answer:
    """``submission=true`` (the default): a play of each ``id``; ``false``: the song playing now."""
    raws = call.all("id")
    if not raws:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: id")
    submission = call.boolean("submission", True)
    for raw in call.all("time"):
        if not raw.isdigit() or len(raw) > 15:
            raise ss.SubsonicError(ss.GENERIC, f"parameter time must be milliseconds since 1970, not {raw[:32]!r}")
    catalog = await call.state.browse.get()
    ids = _songs_in(catalog, raws)
    if not submission:
        _now_playing[call.user_id] = (ids[-1], call.username, call.client, time.time())
        return ss.Answer()

    def work(db: Session) -> None:
        for sid in ids:
            listening.record_play(db, call.user_id, sid)

    await _write(call, work)
    current = _now_playing.get(call.user_id)
    if current is not None and current[0] in ids:
        _now_playing.pop(call.user_id, None)
    return ss.Answer()


@method("getNowPlaying")
async def get_now_playing(call: Call) -> ss.Answer:
    catalog = await call.state.browse.get()
    now = time.time()
    entries = []
    for user_id, (sid, username, client, when) in list(_now_playing.items()):
        if now - when > NOW_PLAYING_S:
            _now_playing.pop(user_id, None)
            continue
        if sid in catalog.songs:
            track, album = catalog.songs[sid]
            extra = {"username": username, "minutesAgo": int((now - when) // 60), "playerId": 1, "playerName": client}
            entries.append(child(track, album) | extra)
    return ss.Answer({"nowPlaying": {"entry": entries}})


# --- the user ------------------------------------------------------------------------------------------------


@method("getUser")
async def get_user(call: Call) -> ss.Answer:
    name = call.required("username")
    if name.strip().lower() != call.username.lower() and not call.is_admin:
        raise ss.SubsonicError(ss.NOT_AUTHORISED, "only an admin may see another user")
    if name.strip().lower() != call.username.lower():
        from gateway.db.accounts import find_user

        user = await _read(call, lambda db: find_user(db, name))
        if user is None:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no user {name[:64]!r}")
        username, admin = user.username, user.is_admin
    else:
        username, admin = call.username, call.is_admin
    roles = {
        "scrobblingEnabled": True,
        "adminRole": admin,
        "settingsRole": True,
        "downloadRole": True,
        "uploadRole": False,
        "playlistRole": True,
        "coverArtRole": False,
        "commentRole": False,
        "podcastRole": False,
        "streamRole": True,
        "jukeboxRole": False,
        "shareRole": False,
        "videoConversionRole": False,
    }
    return ss.Answer({"user": {"username": username, **roles, "folder": [{"value": 1}]}})


# --- playlists -----------------------------------------------------------------------------------------------


def _playlist_id(raw: str) -> int:
    digits = raw.removeprefix("pl-")
    if not digits.isdigit() or len(digits) > 12:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no playlist {raw[:64]!r}")
    return int(digits)


def _playlist_node(view: playlists.PlaylistView, catalog: Catalog, with_entries: bool) -> ss.Node:
    # Apps see only songs they can play; positions they send back count in this list.
    playable = [s for s in view.song_ids if s in catalog.songs]
    p = view.playlist
    node: ss.Node = {
        "id": f"pl-{p.id}",
        "name": p.name,
        "comment": p.comment,
        "owner": view.owner,
        "public": bool(p.public),
        "songCount": len(playable),
        "duration": int(sum(catalog.songs[s][0].duration_s or 0 for s in playable)),
        "created": iso(p.created_at),
        "changed": iso(p.updated_at),
    }
    if with_entries:
        node["entry"] = [child(*catalog.songs[s]) for s in playable]
    return node


@method("getPlaylists")
async def get_playlists(call: Call) -> ss.Answer:
    catalog = await call.state.browse.get()
    views = await _read(call, lambda db: playlists.visible(db, call.user_id))
    return ss.Answer({"playlists": {"playlist": [_playlist_node(v, catalog, False) for v in views]}})


@method("getPlaylist")
async def get_playlist(call: Call) -> ss.Answer:
    pid = _playlist_id(call.required("id"))
    catalog = await call.state.browse.get()
    view = await _read(call, lambda db: playlists.get(db, call.user_id, pid))
    return ss.Answer({"playlist": _playlist_node(view, catalog, True)})


@method("createPlaylist")
async def create_playlist(call: Call) -> ss.Answer:
    """A new playlist (``name``), or the songs of an existing one replaced (``playlistId``)."""
    catalog = await call.state.browse.get()
    songs = _songs_in(catalog, call.all("songId"))
    existing = call.get("playlistId")
    if existing:
        pid = _playlist_id(existing)
        await _write(call, lambda db: playlists.replace_songs(db, call.user_id, pid, songs))
    else:
        name = call.required("name")[:255]
        pid = await _write(call, lambda db: playlists.create(db, call.user_id, name, songs))
    view = await _read(call, lambda db: playlists.get(db, call.user_id, pid))
    return ss.Answer({"playlist": _playlist_node(view, catalog, True)})


@method("updatePlaylist")
async def update_playlist(call: Call) -> ss.Answer:
    pid = _playlist_id(call.required("playlistId"))
    catalog = await call.state.browse.get()
    add = _songs_in(catalog, call.all("songIdToAdd"))
    positions = []
    for raw in call.all("songIndexToRemove"):
        if not raw.isdigit() or len(raw) > 9:
            raise ss.SubsonicError(ss.GENERIC, f"songIndexToRemove must be a position, not {raw[:32]!r}")
        positions.append(int(raw))
    public = call.boolean("public", False) if call.get("public") not in (None, "") else None
    view = await _read(call, lambda db: playlists.get(db, call.user_id, pid))
    # Positions count among the songs the app sees (the playable ones): map them to stored positions.
    visible = [i for i, s in enumerate(view.song_ids) if s in catalog.songs]
    if any(p >= len(visible) for p in positions):
        raise ss.SubsonicError(ss.NOT_FOUND, f"the playlist has {len(visible)} songs: no such position")
    stored = [visible[p] for p in positions]
    name, comment = call.get("name"), call.get("comment")
    await _write(
        call,
        lambda db: playlists.update(
            db,
            call.user_id,
            pid,
            name=name[:255] if name else None,
            comment=comment[:1024] if comment is not None else None,
            public=public,
            add=add,
            remove_positions=stored,
        ),
    )
    return ss.Answer()


@method("deletePlaylist")
async def delete_playlist(call: Call) -> ss.Answer:
    pid = _playlist_id(call.required("id"))
    await _write(call, lambda db: playlists.remove(db, call.user_id, pid, admin=call.is_admin))
    return ss.Answer()


# --- the play queue ------------------------------------------------------------------------------------------


@method("getPlayQueue")
async def get_play_queue(call: Call) -> ss.Answer:
    catalog = await call.state.browse.get()
    queue = await _read(call, lambda db: playlists.get_queue(db, call.user_id))
    if queue is None:
        return ss.Answer()
    entries = [child(*catalog.songs[s]) for s in queue.song_ids if s in catalog.songs]
    node: ss.Node = {
        "current": str(queue.current) if queue.current is not None else None,
        "position": queue.position_ms,
        "username": call.username,
        "changed": iso(queue.changed_at),  # type: ignore[arg-type]
        "changedBy": queue.changed_by,
        "entry": entries,
    }
    return ss.Answer({"playQueue": node})


@method("savePlayQueue")
async def save_play_queue(call: Call) -> ss.Answer:
    catalog = await call.state.browse.get()
    songs = _songs_in(catalog, call.all("id"))
    current_raw = call.get("current")
    current = find_song(catalog, current_raw)[0].id if current_raw else (songs[0] if songs else None)
    position = call.integer("position", 0, 0, 10**12)
    await _write(call, lambda db: playlists.save_queue(db, call.user_id, songs, current, position, call.client))
    return ss.Answer()
