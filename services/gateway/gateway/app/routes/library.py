"""The music library: what the folder holds (albums with covers, playable) and the admin's review of MSD matches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError
from sqlalchemy.orm import Session

from gateway.app.deps import Admin, Db, State
from gateway.app.schemas import (
    AlbumOut,
    AlbumsOut,
    LibraryOut,
    MatchCandidateOut,
    MatchDecisionIn,
    MatchDecisionOut,
    MatchReviewOut,
    MatchReviewsOut,
    SongOut,
)
from gateway.app.settings import Settings
from gateway.core.audiofiles import resolve_audio_path
from gateway.core.library import read_cover
from gateway.db import library as lib

router = APIRouter(tags=["library"])
admin = APIRouter(
    prefix="/api/admin/library",
    tags=["admin"],
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("/api/library", response_model=LibraryOut)
def library(db: Db, state: State) -> LibraryOut:
    """How many files the music folder has, how many play, how many matched an MSD song."""
    s = lib.library_summary(db)
    return LibraryOut(
        configured=state.settings.music_dir is not None,
        files=s.files,
        present=s.present,
        missing=s.missing,
        songs=s.songs,
        matched=s.matched,
        ambiguous=s.ambiguous,
    )


@router.get("/api/library/albums", response_model=AlbumsOut)
def albums(
    db: Db,
    q: Annotated[
        str | None, Query(max_length=200, description="Only albums whose artist, title or songs contain this")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlbumsOut:
    """The library's albums by artist, each with its songs in track order (every one playable)."""
    found = lib.library_albums(db, q)
    page = found[offset : offset + limit]
    return AlbumsOut(
        total=len(found),
        offset=offset,
        items=[
            AlbumOut(
                artist=a.artist,
                title=a.title,
                year=a.year,
                cover_url=f"/api/songs/{a.cover_song_id}/cover" if a.cover_song_id is not None else None,
                songs=[SongOut.of(s) for s in a.tracks],
            )
            for a in page
        ],
    )


@router.get(
    "/api/songs/{song_id}/cover",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **NOT_FOUND},
)
def cover(song_id: int, db: Db, state: State) -> Response:
    """The cover art embedded in the song's file of the music folder."""
    found = cover_of(db, state.settings, song_id)
    if found is None:
        raise ApiError(404, f"song {song_id} has no cover", code="no_cover")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "public, max-age=86400"})


def cover_of(db: Session, settings: Settings, song_id: int) -> tuple[bytes, str] | None:
    """``(bytes, MIME type)`` of ``song_id``'s cover: embedded in its file, else its album folder's picture
    (``cover.jpg``, ``folder.png`` …); read only from the music folder."""
    from gateway.core.library import folder_cover

    music = settings.music_dir
    if music is None:
        return None
    path = lib.cover_path(db, song_id)
    if path is not None:
        safe = resolve_audio_path(str(path), settings.var_dir, settings.data_dir, music)
        found = read_cover(safe) if safe is not None else None
        if found is not None:
            return found
    file = lib.present_file(db, song_id)
    safe = resolve_audio_path(str(file), settings.var_dir, settings.data_dir, music) if file is not None else None
    return folder_cover(safe.parent) if safe is not None else None


def _relative(path: str, music: Path | None) -> str:
    p = Path(path)
    if music is not None and p.is_relative_to(music.resolve()):
        return p.relative_to(music.resolve()).as_posix()
    return p.name


@admin.get("/matches", response_model=MatchReviewsOut)
def matches(_: Admin, db: Db, state: State) -> MatchReviewsOut:
    """Files whose MSD match is uncertain (two close candidates, or a song another file already plays)."""
    return MatchReviewsOut(
        items=[
            MatchReviewOut(
                file_id=r.file.id,
                path=_relative(r.file.path, state.settings.music_dir),
                tag_artist=r.file.artist,
                tag_title=r.file.title,
                song=SongOut.of(r.song),
                candidates=[MatchCandidateOut(song=SongOut.of(s), confidence=c) for s, c in r.candidates],
            )
            for r in lib.ambiguous_matches(db)
        ]
    )


@admin.post(
    "/matches/{file_id}",
    response_model=MatchDecisionOut,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def decide(file_id: int, body: MatchDecisionIn, _: Admin, db: Db, state: State) -> MatchDecisionOut:
    """Confirm a candidate (the file then plays that MSD song, which receives the plays, ratings and likes of the
    file's own song) or reject them all (the file stays a song of its own)."""
    if body.action == "confirm" and not body.msd_song_id:
        raise ApiError(422, "confirm needs msd_song_id", code="validation_error", details=[{"field": "msd_song_id"}])
    try:
        song = lib.resolve_match(db, file_id, body.action, body.msd_song_id)
    except lib.ReviewError as exc:
        status = 404 if "has no match" in str(exc) else 409
        raise ApiError(status, str(exc), code="not_under_review" if status == 404 else "bad_candidate") from exc
    db.commit()
    state.library.invalidate()
    return MatchDecisionOut(file_id=file_id, song=SongOut.of(song))
