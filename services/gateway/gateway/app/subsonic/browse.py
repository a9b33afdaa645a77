"""Browsing, lists and search over the playable catalog; streaming and cover art.

Apps see only what they can play (:mod:`gateway.core.browse`): the music folder's files and the shipped
recordings. Songs carry the user's own marks (``starred``, ``userRating``, ``playCount``), albums and artists
their stars.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from musicrec_common.web import ApiError

from gateway.app.subsonic.protocol import Call, binary, method, song_id
from gateway.core import subsonic as ss
from gateway.core.audiofiles import content_type
from gateway.core.browse import ARTICLES, AlbumEntry, ArtistEntry, Catalog, Track, index_letters
from gateway.db.browse import Marks, user_marks

IGNORED_ARTICLES = " ".join(ARTICLES)
MAX_PAGE = 1000  # items of one list or search page
EPOCH = dt.datetime(2000, 1, 1)


def iso(when: dt.datetime | None) -> str | None:
    """``2026-12-05T21:13:13.000Z`` (the database keeps naive UTC)."""
    if when is None:
        return None
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


async def marks_of(call: Call) -> Marks:
    def load() -> Marks:
        with call.state.sessions() as db:
            return user_marks(db, call.user_id)

    return await run_in_threadpool(load)


def child(track: Track, album: AlbumEntry, marks: Marks | None = None) -> ss.Node:
    """A song as the protocol's ``Child``: what apps show and play."""
    suffix = track.path.rsplit(".", 1)[-1].lower() if "." in track.path else None
    node: ss.Node = {
        "id": str(track.id),
        "parent": album.id,
        "isDir": False,
        "title": track.title or "Untitled",
        "album": album.name,
        "artist": track.artist or album.artist,
        "track": track.track_no,
        "year": track.year or album.year,
        "genre": track.genre,
        "coverArt": str(track.id) if track.has_cover else (album.id if album.may_have_cover else None),
        "contentType": content_type(Path(track.path)),
        "suffix": suffix,
        "duration": int(track.duration_s) if track.duration_s else None,
        "isVideo": False,
        "created": iso(track.added),
        "albumId": album.id,
        "artistId": album.artist_id,
        "type": "music",
        "mediaType": "song",
    }
    if marks is not None:
        node["playCount"] = marks.plays.get(track.id, 0)
        node["userRating"] = marks.ratings.get(track.id)
        node["starred"] = iso(marks.liked.get(track.id))
    return node


def album_node(album: AlbumEntry, marks: Marks | None = None, with_songs: bool = False) -> ss.Node:
    node: ss.Node = {
        "id": album.id,
        "name": album.name,
        "artist": album.artist,
        "artistId": album.artist_id,
        "coverArt": album.id if album.may_have_cover else None,
        "songCount": len(album.tracks),
        "duration": album.duration_s,
        "created": iso(album.added or EPOCH),
        "year": album.year,
        "genre": album.genre,
    }
    if marks is not None:
        node["starred"] = iso(marks.stars.get(("album", album.id)))
        node["playCount"] = sum(marks.plays.get(t.id, 0) for t in album.tracks)
    if with_songs:
        node["song"] = [child(t, album, marks) for t in album.tracks]
    return node


def album_dir(album: AlbumEntry, marks: Marks | None = None) -> ss.Node:
    """An album as a folder ``Child`` (the older, folder-based lists)."""
    return {
        "id": album.id,
        "parent": album.artist_id,
        "isDir": True,
        "title": album.name,
        "album": album.name,
        "artist": album.artist,
        "year": album.year,
        "genre": album.genre,
        "coverArt": album.id if album.may_have_cover else None,
        "created": iso(album.added or EPOCH),
        "starred": iso(marks.stars.get(("album", album.id))) if marks else None,
    }


def artist_node(artist: ArtistEntry, marks: Marks | None = None) -> ss.Node:
    return {
        "id": artist.id,
        "name": artist.name,
        "albumCount": len(artist.albums),
        "starred": iso(marks.stars.get(("artist", artist.id))) if marks else None,
    }


def _index(catalog: Catalog, marks: Marks) -> list[ss.Node]:
    return [
        {"name": letter, "artist": [artist_node(a, marks) for a in artists]}
        for letter, artists in index_letters(list(catalog.artists.values()))
    ]


def find_song(catalog: Catalog, raw: str) -> tuple[Track, AlbumEntry]:
    found = catalog.songs.get(song_id(raw))
    if found is None:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no song {raw[:64]!r} among the playable songs")
    return found


def find_album(catalog: Catalog, raw: str) -> AlbumEntry:
    album = catalog.albums_by_id.get(raw)
    if album is None:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no album {raw[:64]!r}")
    return album


def find_artist(catalog: Catalog, raw: str) -> ArtistEntry:
    artist = catalog.artists.get(raw)
    if artist is None:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no artist {raw[:64]!r}")
    return artist


@method("getMusicFolders")
async def get_music_folders(call: Call) -> ss.Answer:
    return ss.Answer({"musicFolders": {"musicFolder": [{"id": 1, "name": "Music"}]}})


@method("getArtists")
async def get_artists(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    return ss.Answer({"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": _index(catalog, marks)}})


@method("getIndexes")
async def get_indexes(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    body = {"ignoredArticles": IGNORED_ARTICLES, "lastModified": 0, "index": _index(catalog, marks)}
    return ss.Answer({"indexes": body})


@method("getMusicDirectory")
async def get_music_directory(call: Call) -> ss.Answer:
    """Folder browsing: an artist holds its albums, an album its songs."""
    raw = call.required("id")
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    if raw in catalog.artists:
        artist = catalog.artists[raw]
        node = {"id": artist.id, "name": artist.name, "child": [album_dir(a, marks) for a in artist.albums]}
    else:
        album = find_album(catalog, raw)
        node = {
            "id": album.id,
            "parent": album.artist_id,
            "name": album.name,
            "child": [child(t, album, marks) for t in album.tracks],
        }
    return ss.Answer({"directory": node})


@method("getArtist")
async def get_artist(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    artist = find_artist(catalog, call.required("id"))
    return ss.Answer({"artist": artist_node(artist, marks) | {"album": [album_node(a, marks) for a in artist.albums]}})


@method("getAlbum")
async def get_album(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    return ss.Answer({"album": album_node(find_album(catalog, call.required("id")), marks, with_songs=True)})


@method("getSong")
async def get_song(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    track, album = find_song(catalog, call.required("id"))
    return ss.Answer({"song": child(track, album, marks)})


ALBUM_LIST_TYPES = (
    "random",
    "newest",
    "highest",
    "frequent",
    "recent",
    "starred",
    "alphabeticalByName",
    "alphabeticalByArtist",
    "byYear",
    "byGenre",
)


def album_list(call: Call, catalog: Catalog, marks: Marks) -> list[AlbumEntry]:
    """The albums of ``getAlbumList2`` / ``getAlbumList`` for ``type``, paged by ``size`` and ``offset``."""
    kind = call.required("type")
    size = call.integer("size", 10, 1, 500)
    offset = call.integer("offset", 0, 0, 10**9)
    albums = catalog.albums
    if kind == "random":
        return random.sample(albums, min(size, len(albums)))
    if kind == "newest":
        chosen = sorted(albums, key=lambda a: a.added or EPOCH, reverse=True)
    elif kind == "highest":
        rated = [(a, [marks.ratings[t.id] for t in a.tracks if t.id in marks.ratings]) for a in albums]
        chosen = [a for a, r in sorted(rated, key=lambda ar: -sum(ar[1]) / len(ar[1]) if ar[1] else 0) if r]
    elif kind == "frequent":
        counted = [(a, sum(marks.plays.get(t.id, 0) for t in a.tracks)) for a in albums]
        chosen = [a for a, n in sorted(counted, key=lambda an: -an[1]) if n > 0]
    elif kind == "recent":
        played = [(a, max((marks.last_played.get(t.id) or EPOCH) for t in a.tracks)) for a in albums]
        chosen = [a for a, when in sorted(played, key=lambda aw: aw[1], reverse=True) if when > EPOCH]
    elif kind == "starred":
        chosen = sorted(
            (a for a in albums if ("album", a.id) in marks.stars),
            key=lambda a: marks.stars[("album", a.id)],
            reverse=True,
        )
    elif kind == "alphabeticalByName":
        chosen = sorted(albums, key=lambda a: a.name.casefold())
    elif kind == "alphabeticalByArtist":
        chosen = list(albums)  # already by artist (without articles), year, name
    elif kind == "byYear":
        start = call.optional_int("fromYear", 0, 9999)
        end = call.optional_int("toYear", 0, 9999)
        if start is None or end is None:
            raise ss.SubsonicError(ss.MISSING_PARAMETER, "byYear needs fromYear and toYear")
        low, high = min(start, end), max(start, end)
        chosen = sorted(
            (a for a in albums if a.year is not None and low <= a.year <= high),
            key=lambda a: a.year or 0,
            reverse=start > end,
        )
    elif kind == "byGenre":
        genre = call.required("genre").casefold()
        chosen = [a for a in albums if any((t.genre or "").casefold() == genre for t in a.tracks)]
    else:
        raise ss.SubsonicError(ss.GENERIC, f"unknown list type {kind[:32]!r}; one of {', '.join(ALBUM_LIST_TYPES)}")
    return chosen[offset : offset + size]


@method("getAlbumList2")
async def get_album_list2(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    albums = album_list(call, catalog, marks)
    return ss.Answer({"albumList2": {"album": [album_node(a, marks) for a in albums]}})


@method("getAlbumList")
async def get_album_list(call: Call) -> ss.Answer:
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    albums = album_list(call, catalog, marks)
    return ss.Answer({"albumList": {"album": [album_dir(a, marks) for a in albums]}})


@method("getGenres")
async def get_genres(call: Call) -> ss.Answer:
    catalog = await call.state.browse.get()
    genres = [{"songCount": songs, "albumCount": albums, "value": name} for name, songs, albums in catalog.genres]
    return ss.Answer({"genres": {"genre": genres}})


def _query(call: Call) -> str:
    # Apps syncing the whole library send an empty query, some as `""`.
    return (call.get("query") or "").strip().strip('"').strip()


@method("search3")
async def search3(call: Call) -> ss.Answer:
    return ss.Answer({"searchResult3": await _search(call)})


@method("search2")
async def search2(call: Call) -> ss.Answer:
    return ss.Answer({"searchResult2": await _search(call)})


async def _search(call: Call) -> ss.Node:
    """Artists, albums and songs matching every word of ``query``; an empty query pages through everything."""
    query = _query(call)
    pages = {
        kind: (call.integer(f"{kind}Count", 20, 0, MAX_PAGE), call.integer(f"{kind}Offset", 0, 0, 10**9))
        for kind in ("artist", "album", "song")
    }
    catalog, marks = await call.state.browse.get(), await marks_of(call)

    def page(items: list, kind: str) -> list:  # type: ignore[type-arg]
        count, offset = pages[kind]
        return items[offset : offset + count]

    songs = page(catalog.find_songs(query), "song")
    body: ss.Node = {
        "artist": [artist_node(a, marks) for a in page(catalog.find_artists(query), "artist")],
        "album": [album_node(a, marks) for a in page(catalog.find_albums(query), "album")],
        "song": [child(t, catalog.songs[t.id][1], marks) for t in songs],
    }
    return body


@method("getRandomSongs")
async def get_random_songs(call: Call) -> ss.Answer:
    size = call.integer("size", 10, 1, 500)
    genre = (call.get("genre") or "").casefold()
    start = call.optional_int("fromYear", 0, 9999)
    end = call.optional_int("toYear", 0, 9999)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    pool = [
        (t, a)
        for t, a in catalog.songs.values()
        if (not genre or (t.genre or "").casefold() == genre)
        and (start is None or (t.year or a.year or 0) >= start)
        and (end is None or (t.year or a.year or 10**4) <= end)
    ]
    chosen = random.sample(pool, min(size, len(pool)))
    return ss.Answer({"randomSongs": {"song": [child(t, a, marks) for t, a in chosen]}})


@method("getSongsByGenre")
async def get_songs_by_genre(call: Call) -> ss.Answer:
    genre = call.required("genre").casefold()
    count = call.integer("count", 10, 1, 500)
    offset = call.integer("offset", 0, 0, 10**9)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    found = [(t, a) for t, a in catalog.songs.values() if (t.genre or "").casefold() == genre]
    return ss.Answer({"songsByGenre": {"song": [child(t, a, marks) for t, a in found[offset : offset + count]]}})


@binary("stream", "download")
async def stream(call: Call, request: Request) -> Response:
    """The original file with HTTP Range: no transcoding here, so ``format`` and ``maxBitRate`` are not applied
    (the answer says so in ``X-Transcoding: none``)."""
    from gateway.app.routes.songs import audio

    catalog = await call.state.browse.get()
    track, _ = find_song(catalog, call.required("id"))

    def open_stream() -> Response:
        with call.state.sessions() as db:
            return audio(track.id, request, db, call.state)

    try:
        response = await run_in_threadpool(open_stream)
    except ApiError as exc:
        if exc.status == 416:
            raise
        raise ss.SubsonicError(ss.NOT_FOUND, f"song {track.id} has no audio here") from exc
    response.headers["X-Transcoding"] = "none"
    return response


@binary("getCoverArt")
async def cover_art(call: Call, request: Request) -> Response:
    """The embedded cover of a song (or of an album's first song that has one), else the album folder's image
    (``cover.jpg``, ``folder.jpg`` …); ``size`` scales it down, keeping its proportions."""
    from gateway.app.routes.library import cover_of

    raw = call.required("id")
    size = call.optional_int("size", 1, 4096)
    catalog = await call.state.browse.get()
    ids: list[int] = []
    if raw in catalog.albums_by_id:
        album = catalog.albums_by_id[raw]
        ids = [album.cover_song_id] if album.cover_song_id is not None else [t.id for t in album.tracks[:1]]
    elif raw.isdigit() and len(raw) <= 12 and int(raw) in catalog.songs:
        ids = [int(raw)]

    def load() -> tuple[bytes, str] | None:
        with call.state.sessions() as db:
            for sid in ids:
                found = cover_of(db, call.state.settings, sid)
                if found is not None:
                    return scaled(*found, size) if size else found
        return None

    found = await run_in_threadpool(load)
    if found is None:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no cover art {raw[:64]!r}")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "public, max-age=86400"})


def scaled(data: bytes, mime: str, size: int) -> tuple[bytes, str]:
    """The image scaled to fit ``size`` × ``size`` (never enlarged); as it is when it cannot be read."""
    import io

    try:
        from PIL import Image
    except ImportError:  # the image without Pillow is the original: still a cover
        return data, mime
    try:
        with Image.open(io.BytesIO(data)) as img:
            if max(img.size) <= size:
                return data, mime
            img.thumbnail((size, size))
            out = io.BytesIO()
            fmt = "PNG" if mime == "image/png" else "JPEG"
            img.convert("RGBA" if fmt == "PNG" else "RGB").save(out, fmt)
            return out.getvalue(), f"image/{fmt.lower()}"
    except Exception:  # a broken picture is sent as it is; the app decides
        return data, mime
