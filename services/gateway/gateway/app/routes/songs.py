"""The catalog: search, song detail and audio streaming with HTTP Range support."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError

from gateway.app.deps import Db, MaybeUser, State
from gateway.app.schemas import SearchItem, SearchOut, SongDetailOut, SongOut
from gateway.core.audiofiles import content_type, resolve_audio_path
from gateway.core.ranges import RangeNotSatisfiable, parse_range
from gateway.db import catalog, listening
from gateway.db.models import Song

router = APIRouter(prefix="/api/songs", tags=["catalog"])
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorResponse}}
CHUNK = 64 * 1024


def song_or_404(db: Db, song_id: int) -> Song:
    song = catalog.get_song(db, song_id)
    if song is None:
        raise ApiError(404, f"song {song_id} not found", code="song_not_found", details={"song_id": song_id})
    return song


@router.get("/search", response_model=SearchOut)
def search(
    db: Db,
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words of a title, artist, album, tag")],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    source: Annotated[
        Literal["msd", "catalog", "upload"] | None, Query(description="Only songs of this origin")
    ] = None,
) -> SearchOut:
    """Typo-tolerant ranked search (exact and prefix matches first, then trigram similarity)."""
    result = state.search.index().search(q, offset=(page - 1) * per_page, limit=per_page, source=source)
    songs = catalog.songs_by_id(db, [h.song_id for h in result.hits])
    items = [
        SearchItem(**SongOut.of(songs[h.song_id]).model_dump(), score=h.score)
        for h in result.hits
        if h.song_id in songs  # deleted since the index was built
    ]
    return SearchOut(query=q, page=page, per_page=per_page, total=result.total, items=items)


@router.get("/{song_id}", response_model=SongDetailOut, responses=NOT_FOUND)
def song_detail(song_id: int, db: Db, user: MaybeUser) -> SongDetailOut:
    """Metadata, play statistics, audio availability; `me` holds the caller's plays, rating and like."""
    song = song_or_404(db, song_id)
    me = listening.user_song_state(db, user.id, song_id) if user is not None else None
    return SongDetailOut.detail(song, catalog.song_stats(db, song_id), me)


def _file_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(start)
        left = length
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data


@router.get(
    "/{song_id}/audio",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/ogg": {}}, "description": "The whole file"},
        206: {"description": "The requested byte range"},
        404: {"model": ErrorResponse, "description": "Unknown song, or `no_audio`"},
        416: {"model": ErrorResponse},
    },
)
def audio(song_id: int, request: Request, db: Db, state: State) -> StreamingResponse:
    """Stream the song's recording; honours `Range: bytes=...` (206 with Content-Range, 416 when outside)."""
    song = song_or_404(db, song_id)
    path = resolve_audio_path(
        song.audio_path, state.settings.var_dir, state.settings.data_dir, state.settings.music_dir
    )
    if path is None:
        raise ApiError(404, f"song {song_id} has no audio", code="no_audio", details={"song_id": song_id})
    stat = path.stat()
    size = stat.st_size
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "Cache-Control": "public, max-age=3600",
    }
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != etag:  # the client's partial copy is stale: send it all
        range_header = None
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        raise ApiError(
            416,
            f"range {range_header!r} is outside the file ({size} bytes)",
            code="range_not_satisfiable",
            details={"size": size},
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        ) from None
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_file_chunks(path, 0, size), media_type=content_type(path), headers=headers)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(wanted.length)
    return StreamingResponse(
        _file_chunks(path, wanted.start, wanted.length),
        status_code=206,
        media_type=content_type(path),
        headers=headers,
    )
