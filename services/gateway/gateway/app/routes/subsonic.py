"""The Subsonic / OpenSubsonic API under ``/rest/`` (so far: the protocol, password authentication, system methods,
browsing the music folder by artist and album, streaming and cover art).

Every method answers at ``/rest/<method>`` and ``/rest/<method>.view``, by GET or by POST with a form body (the
``formPost`` extension), in XML or with ``f=json`` in JSON. Parameters, authentication and errors follow the
protocol (:mod:`gateway.core.subsonic`): a bad request is an error answer in its shape, never a 5xx or a page.
Authentication: ``u`` + ``p`` (plain or ``enc:``) against the account's password, under the login limits.
Token authentication (``t`` + ``s``) and API keys need app passwords, which this server does not issue yet:
they are refused with 41 and 44. What is browsed is the music folder (present files, grouped by album artist and
album, ids ``ar-…`` / ``al-…`` from the names, songs by their database id); ``stream`` and ``download`` send the
original file with HTTP Range (no transcoding), ``getCoverArt`` the embedded cover (``size`` is ignored).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from musicrec_common.web import ApiError

from gateway import __version__
from gateway.app.deps import client_address
from gateway.app.state import AppState
from gateway.core import subsonic as ss
from gateway.core.audiofiles import content_type
from gateway.db import accounts

router = APIRouter(tags=["subsonic"])
MAX_VALUE = 4096  # characters of one parameter value
MAX_PARAMS = 200
EXTENSIONS = [{"name": "formPost", "versions": [1]}]
IGNORED_ARTICLES = "The El La Los Las Le Les"


@dataclass
class Call:
    """One authenticated request: who, and its parameters (repeated names keep every value)."""

    state: AppState
    user_id: int
    username: str
    params: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {name}")
        return value


Method = Callable[[Call], Awaitable[ss.Answer]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return register


@method("ping")
async def ping(call: Call) -> ss.Answer:
    return ss.Answer()


@method("getLicense")
async def get_license(call: Call) -> ss.Answer:
    return ss.Answer({"license": {"valid": True}})


@method("getOpenSubsonicExtensions")
async def get_extensions(call: Call) -> ss.Answer:
    return ss.Answer({"openSubsonicExtensions": EXTENSIONS})


async def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            form = await request.form(max_files=0, max_fields=MAX_PARAMS)
            for key, item in form.multi_items():
                if isinstance(item, str):
                    params.setdefault(key, []).append(item)
    if sum(len(v) for v in params.values()) > MAX_PARAMS:
        raise ss.SubsonicError(ss.GENERIC, f"too many parameters (at most {MAX_PARAMS})")
    for key, values in params.items():
        if len(key) > 64 or any(len(v) > MAX_VALUE for v in values):
            raise ss.SubsonicError(ss.GENERIC, f"parameter {key[:64]!r} is longer than {MAX_VALUE} characters")
    return params


async def _authenticate(state: AppState, request: Request, params: dict[str, list[str]]) -> tuple[int, str]:
    """The user the request authenticates as, or a protocol error (10, 40, 41, 42, 43, 44)."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    username, password, token, salt, api_key = (one(k) for k in ("u", "p", "t", "s", "apiKey"))
    if api_key is not None:
        if username is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either apiKey or u, not both")
        raise ss.SubsonicError(ss.INVALID_API_KEY, "invalid API key")
    if not username:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: u")
    if token is not None or salt is not None:
        if password is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either p or t and s, not both")
        raise ss.SubsonicError(
            ss.TOKEN_NOT_SUPPORTED, "token authentication needs an app password, which this server does not issue yet"
        )
    if password is None:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: p (or t and s)")
    keys = [f"user:{username.strip().lower()}", f"ip:{client_address(request)}"]
    try:
        await state.login_limiter.enforce(keys, "failed logins")
    except ApiError as exc:
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, exc.message) from exc
    secret = ss.decode_password(password)

    def check() -> tuple[int, str] | None:
        with state.sessions() as db:
            user = accounts.authenticate(db, username, secret)
            return (user.id, user.username) if user is not None else None

    found = await run_in_threadpool(check)
    if found is None:
        await state.login_limiter.record(keys)
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, "wrong username or password")
    await state.login_limiter.reset(keys[:1])
    return found


@router.api_route("/rest/{name}", methods=["GET", "POST"], include_in_schema=False)
async def dispatch(name: str, request: Request) -> Response:
    """Every Subsonic method: ``/rest/<method>`` or ``/rest/<method>.view``."""
    state: AppState = request.app.state.app
    fmt = "json" if request.query_params.get("f") == "json" else "xml"
    try:
        params = await _params(request)
        fmt = "json" if (params.get("f") or ["xml"])[0] == "json" else "xml"
        wanted = name.removesuffix(".view")
        handler = METHODS.get(wanted)
        binary = BINARY.get(wanted)
        if handler is None and binary is None:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no method {name[:64]!r} on this server")
        for required in ("v", "c"):
            if not (params.get(required) or [""])[0]:
                raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {required}")
        ss.check_client_version(params["v"][0])
        user_id, username = await _authenticate(state, request, params)
        call = Call(state, user_id, username, params)
        if binary is not None:  # the file itself (stream, download, cover art); errors in the protocol's shape
            return await binary(call, request)
        assert handler is not None
        answer = await handler(call)
        content, media = ss.render(answer.body, fmt, __version__)
    except ss.SubsonicError as exc:
        content, media = ss.render_error(exc, fmt, __version__)
    return Response(content=content, media_type=media)


# --- browsing the music folder (ID3 style: artists -> albums -> songs) -------------------------------------


def _key(prefix: str, *names: str | None) -> str:
    import hashlib

    text = "\x1f".join((n or "").casefold() for n in names)
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def _albums(call: Call) -> list[Any]:
    from gateway.db.library import library_albums

    with call.state.sessions() as db:
        return library_albums(db)


def _child(song: Any, album: Any) -> ss.Node:
    """A song as the protocol's ``Child``: what apps show and play."""
    suffix = (song.audio_path or "").rsplit(".", 1)[-1].lower() if song.audio_path else None
    return {
        "id": str(song.id),
        "parent": _key("al", album.artist, album.title),
        "isDir": False,
        "title": song.title or "Untitled",
        "album": album.title,
        "artist": song.artist,
        "year": song.year or album.year,
        "genre": song.genre,
        "coverArt": str(song.id) if album.cover_song_id == song.id else None,
        "duration": int(song.duration_s) if song.duration_s else None,
        "suffix": suffix,
        "contentType": content_type(Path(song.audio_path)) if song.audio_path else None,
        "type": "music",
        "mediaType": "song",
        "albumId": _key("al", album.artist, album.title),
        "artistId": _key("ar", album.artist),
    }


def _album_node(album: Any, with_songs: bool) -> ss.Node:
    node: ss.Node = {
        "id": _key("al", album.artist, album.title),
        "name": album.title or "Unknown album",
        "artist": album.artist or "Unknown artist",
        "artistId": _key("ar", album.artist),
        "songCount": len(album.tracks),
        "duration": int(sum(s.duration_s or 0 for s in album.tracks)),
        "year": album.year,
        "coverArt": _key("al", album.artist, album.title) if album.cover_song_id is not None else None,
    }
    if with_songs:
        node["song"] = [_child(s, album) for s in album.tracks]
    return node


def _artists(albums: list[Any]) -> dict[str, tuple[str, list[Any]]]:
    out: dict[str, tuple[str, list[Any]]] = {}
    for album in albums:
        key = _key("ar", album.artist)
        out.setdefault(key, (album.artist or "Unknown artist", []))[1].append(album)
    return out


def _index(artists: dict[str, tuple[str, list[Any]]]) -> list[ss.Node]:
    groups: dict[str, list[ss.Node]] = {}
    for key, (name, albums) in sorted(artists.items(), key=lambda kv: kv[1][0].casefold()):
        bare = re.sub(r"^(the|el|la|los|las|le|les)\s+", "", name, flags=re.I)
        letter = bare[:1].upper() if bare[:1].isalpha() else "#"
        groups.setdefault(letter, []).append({"id": key, "name": name, "albumCount": len(albums)})
    return [{"name": letter, "artist": items} for letter, items in sorted(groups.items())]


@method("getMusicFolders")
async def get_music_folders(call: Call) -> ss.Answer:
    return ss.Answer({"musicFolders": {"musicFolder": [{"id": 1, "name": "Music"}]}})


@method("getArtists")
async def get_artists(call: Call) -> ss.Answer:
    artists = _artists(await run_in_threadpool(_albums, call))
    return ss.Answer({"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": _index(artists)}})


@method("getIndexes")
async def get_indexes(call: Call) -> ss.Answer:
    artists = _artists(await run_in_threadpool(_albums, call))
    return ss.Answer({"indexes": {"ignoredArticles": IGNORED_ARTICLES, "lastModified": 0, "index": _index(artists)}})


@method("getArtist")
async def get_artist(call: Call) -> ss.Answer:
    wanted = call.required("id")
    artists = _artists(await run_in_threadpool(_albums, call))
    if wanted not in artists:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no artist {wanted[:64]!r}")
    name, albums = artists[wanted]
    node = {"id": wanted, "name": name, "albumCount": len(albums), "album": [_album_node(a, False) for a in albums]}
    return ss.Answer({"artist": node})


@method("getAlbum")
async def get_album(call: Call) -> ss.Answer:
    wanted = call.required("id")
    for album in await run_in_threadpool(_albums, call):
        if _key("al", album.artist, album.title) == wanted:
            return ss.Answer({"album": _album_node(album, True)})
    raise ss.SubsonicError(ss.NOT_FOUND, f"no album {wanted[:64]!r}")


def _song_id(call: Call) -> int:
    raw = call.required("id")
    if not raw.isdigit() or len(raw) > 12:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no song {raw[:64]!r}")
    return int(raw)


@method("getSong")
async def get_song(call: Call) -> ss.Answer:
    wanted = _song_id(call)
    for album in await run_in_threadpool(_albums, call):
        for song in album.tracks:
            if song.id == wanted:
                return ss.Answer({"song": _child(song, album)})
    raise ss.SubsonicError(ss.NOT_FOUND, f"no song {wanted} in the music folder")


async def _stream(call: Call, request: Request) -> Response:
    """The original file, with HTTP Range (no transcoding here: apps get what the folder holds)."""
    from gateway.app.routes.songs import audio

    song_id = _song_id(call)

    def open_stream() -> Response:
        with call.state.sessions() as db:
            return audio(song_id, request, db, call.state)

    try:
        return await run_in_threadpool(open_stream)
    except ApiError as exc:
        if exc.status == 416:
            raise
        raise ss.SubsonicError(ss.NOT_FOUND, f"song {song_id} has no audio here") from exc


async def _cover(call: Call) -> Response:
    from gateway.app.routes.library import cover_of

    raw = call.required("id")
    song_id: int | None = int(raw) if raw.isdigit() and len(raw) <= 12 else None
    if song_id is None and raw.startswith("al-"):
        song_id = next(
            (a.cover_song_id for a in await run_in_threadpool(_albums, call) if _key("al", a.artist, a.title) == raw),
            None,
        )

    def load() -> tuple[bytes, str] | None:
        if song_id is None:
            return None
        with call.state.sessions() as db:
            return cover_of(db, call.state.settings, song_id)

    found = await run_in_threadpool(load)
    if found is None:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no cover art {raw[:64]!r}")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "public, max-age=86400"})


BINARY: dict[str, Callable[[Call, Request], Awaitable[Response]]] = {
    "stream": _stream,
    "download": _stream,
    "getCoverArt": lambda call, request: _cover(call),
}
