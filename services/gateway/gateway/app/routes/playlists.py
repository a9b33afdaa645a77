"""Playlists over the JSON API: save any mix, radio or path, reorder, rename, delete; export as M3U or JSPF and
import JSPF (the same playlists Subsonic apps see: :mod:`gateway.db.playlists`)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError

from gateway.app.deps import Db, State, User
from gateway.app.schemas import (
    PlaylistImportOut,
    PlaylistIn,
    PlaylistOut,
    PlaylistPatch,
    PlaylistsOut,
    PlaylistSummaryOut,
    SongOut,
    UnmatchedTrack,
)
from gateway.app.state import AppState
from gateway.core.playlist_formats import PlaylistFormatError, Track, parse_jspf, to_jspf, to_m3u
from gateway.db import playlists
from gateway.db.history_import import _ids_by_key
from gateway.db.models import Song
from gateway.db.recs import songs_by_keys

router = APIRouter(
    prefix="/api/me/playlists",
    tags=["playlists"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 413, 422)},
)
MAX_JSPF_BYTES = 8 * 1024 * 1024


def _error(exc: playlists.PlaylistError) -> ApiError:
    code = {"not_found": 404, "forbidden": 403, "too_many": 422}.get(exc.kind, 422)
    return ApiError(code, str(exc), code="playlist_" + exc.kind)


def _view(db: Any, user_id: int, playlist_id: int) -> PlaylistOut:
    view = playlists.get(db, user_id, playlist_id)
    _, _, by_id = songs_by_keys(db, (), (), view.song_ids)
    p = view.playlist
    return PlaylistOut(
        id=p.id,
        name=p.name,
        comment=p.comment,
        public=bool(p.public),
        owner=view.owner,
        mine=p.user_id == user_id,
        updated_at=p.updated_at,
        songs=[SongOut.of(by_id[s]) for s in view.song_ids if s in by_id],
    )


@router.get("", response_model=PlaylistsOut)
def list_playlists(user: User, db: Db) -> PlaylistsOut:
    """Your playlists and other listeners' public ones, by name."""
    return PlaylistsOut(
        playlists=[
            PlaylistSummaryOut(
                id=v.playlist.id,
                name=v.playlist.name,
                public=bool(v.playlist.public),
                owner=v.owner,
                mine=v.playlist.user_id == user.id,
                songs=len(v.song_ids),
                updated_at=v.playlist.updated_at,
            )
            for v in playlists.visible(db, user.id)
        ]
    )


@router.post("", response_model=PlaylistOut, status_code=status.HTTP_201_CREATED)
async def create_playlist(body: PlaylistIn, user: User, state: State) -> PlaylistOut:
    """Save songs (a mix, a radio, a path, anything) as a playlist, in this order."""

    def work() -> PlaylistOut:
        with state.sessions() as db:
            new_id = playlists.create(db, user.id, body.name, body.song_ids)
            if body.comment:
                playlists.update(db, user.id, new_id, comment=body.comment)
            return _view(db, user.id, new_id)

    try:
        return await run_in_threadpool(work)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None


@router.get("/{playlist_id}", response_model=PlaylistOut)
def get_playlist(playlist_id: int, user: User, db: Db) -> PlaylistOut:
    try:
        return _view(db, user.id, playlist_id)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None


@router.patch("/{playlist_id}", response_model=PlaylistOut)
async def patch_playlist(playlist_id: int, body: PlaylistPatch, user: User, state: State) -> PlaylistOut:
    """Rename, describe, share, or give the songs in a new order (``song_ids``: the whole list, reordered or
    trimmed). Only the owner may."""

    def work() -> PlaylistOut:
        with state.sessions() as db:
            if body.song_ids is not None:
                playlists.replace_songs(db, user.id, playlist_id, body.song_ids)
            playlists.update(db, user.id, playlist_id, name=body.name, comment=body.comment, public=body.public)
            return _view(db, user.id, playlist_id)

    try:
        return await run_in_threadpool(work)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None


@router.delete("/{playlist_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_playlist(playlist_id: int, user: User, state: State) -> Response:
    def work() -> None:
        with state.sessions() as db:
            playlists.remove(db, user.id, playlist_id)

    try:
        await run_in_threadpool(work)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _track(song: Song, base: str) -> Track:
    return Track(
        song_id=song.id,
        title=song.title,
        creator=song.artist,
        album=song.release,
        duration_ms=round(song.duration_s * 1000) if song.duration_s else None,
        location=f"{base}/api/songs/{song.id}/audio" if song.audio_path else None,
        msd_song_id=song.msd_song_id,
    )


@router.get(
    "/{playlist_id}/export",
    responses={200: {"content": {"audio/x-mpegurl": {}, "application/jspf+json": {}}}},
    response_class=Response,
)
def export_playlist(
    playlist_id: int,
    request: Request,
    user: User,
    db: Db,
    format: Annotated[Literal["m3u", "jspf"], Query(description="`m3u` (extended M3U) or `jspf`")] = "jspf",
) -> Response:
    """The playlist as a file: M3U (what players open; songs with audio play from this server) or JSPF (what
    ListenBrainz and other services read)."""
    try:
        view = playlists.get(db, user.id, playlist_id)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None
    _, _, by_id = songs_by_keys(db, (), (), view.song_ids)
    base = str(request.base_url).rstrip("/")
    tracks = [_track(by_id[s], base) for s in view.song_ids if s in by_id]
    safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in view.playlist.name).strip() or "playlist"
    if format == "m3u":
        return Response(
            to_m3u(view.playlist.name, tracks),
            media_type="audio/x-mpegurl",
            headers={"Content-Disposition": f'attachment; filename="{safe}.m3u"'},
        )
    doc = to_jspf(view.playlist.name, view.owner, tracks)
    return Response(
        json.dumps(doc, ensure_ascii=False, indent=1),
        media_type="application/jspf+json",
        headers={"Content-Disposition": f'attachment; filename="{safe}.jspf"'},
    )


def _resolve(state: AppState, tracks: list[Track]) -> tuple[list[int], list[UnmatchedTrack]]:
    """Each track's song here: our own id (a file exported from here, when the song still is that song), the
    MSD id, else creator and title through the matcher (accepted matches only)."""
    found: list[int] = []
    missing: list[UnmatchedTrack] = []
    with state.sessions() as db:
        _, _, by_id = songs_by_keys(db, (), (), [t.song_id for t in tracks if t.song_id is not None])
        by_msd, _, _ = songs_by_keys(db, [t.msd_song_id for t in tracks if t.msd_song_id], (), ())
        index = state.matcher.index()
        keys: dict[int, str] = {}
        for n, t in enumerate(tracks):
            own = by_id.get(t.song_id) if t.song_id is not None else None
            if own is not None and (not t.title or (own.title or "").casefold() == t.title.casefold()):
                keys[n] = f"gw:{own.id}"
            elif t.msd_song_id and t.msd_song_id in by_msd:
                keys[n] = f"gw:{by_msd[t.msd_song_id].id}"
            elif t.title:
                match = index.match(t.creator, t.title, t.duration_ms / 1000 if t.duration_ms else None)
                if match.status == "accepted" and match.song_id:
                    keys[n] = match.song_id
        ids = _ids_by_key(db, set(keys.values()))
    for n, t in enumerate(tracks):
        sid = ids.get(keys.get(n, ""))
        if sid is None:
            missing.append(UnmatchedTrack(position=n, title=t.title, creator=t.creator))
        else:
            found.append(sid)
    return found, missing


@router.post("/import", response_model=PlaylistImportOut, status_code=status.HTTP_201_CREATED)
async def import_playlist(file: UploadFile, user: User, state: State) -> PlaylistImportOut:
    """A JSPF file becomes one of your playlists: each track found here by its ids or by creator and title; the
    tracks that name no song here are listed (nothing is invented)."""
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    if size > MAX_JSPF_BYTES:
        raise ApiError(413, f"a playlist file is at most {MAX_JSPF_BYTES // 2**20} MB", code="payload_too_large")
    data = await file.read()
    try:
        title, tracks = parse_jspf(json.loads(data))
    except (ValueError, UnicodeDecodeError) as exc:
        message = str(exc) if isinstance(exc, PlaylistFormatError) else "not a JSON file"
        raise ApiError(422, message, code="bad_playlist_file") from None
    found, missing = await run_in_threadpool(_resolve, state, tracks)

    def work() -> PlaylistOut:
        with state.sessions() as db:
            return _view(db, user.id, playlists.create(db, user.id, title[:255], found))

    try:
        created = await run_in_threadpool(work)
    except playlists.PlaylistError as exc:
        raise _error(exc) from None
    return PlaylistImportOut(playlist=created, tracks=len(tracks), matched=len(found), unmatched=missing)
