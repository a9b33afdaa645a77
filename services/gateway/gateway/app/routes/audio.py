"""What the audio model answers about uploaded clips and recordings: search by sound and the comparison of two
recordings (the plagiarism check).

Both are open to anonymous visitors, so each address gets AUDIO_QUERY_LIMIT of them per AUDIO_QUERY_WINDOW_S
(every attempt counts, a rejected file too: decoding it cost the service as much). A refusal by audio_service (an
unreadable clip, an unknown song) is its 4xx; audio_service down is a ``degraded`` answer, never a 5xx.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorBody, ErrorResponse
from musicrec_common.web import ApiError
from pydantic import ValidationError

from gateway.app import recommending
from gateway.app.deps import State, client_address
from gateway.app.downstream import ServiceDown, ServiceRejected
from gateway.app.schemas import (
    CompareOut,
    HumItem,
    HumOut,
    PassageOut,
    Segment,
    SongOut,
    SoundMatch,
    SoundQueryOut,
    VersionOut,
    VersionsOut,
)
from gateway.app.state import AppState
from gateway.db.models import Song

router = APIRouter(tags=["audio"])
LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "Too many sound searches from this address"}
}
Clip = tuple[str, bytes, str]  # (file name, bytes, content type)


async def read_clip(state: AppState, request: Request, file: UploadFile, field: str = "file") -> Clip:
    """The uploaded clip, refused (413/422) when over MAX_UPLOAD_MB or empty, never read past the limit."""
    limit = int(state.settings.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    too_big = f"the clip is larger than {state.settings.max_upload_mb:g} MB"
    if declared and declared.isdigit() and int(declared) > 2 * limit + 64 * 1024:
        raise ApiError(413, too_big, code="payload_too_large", details=[{"field": field}])
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, too_big, code="payload_too_large", details=[{"field": field}])
    if not data:
        raise ApiError(422, "the uploaded file is empty", code="bad_audio", details=[{"field": field}])
    name = (file.filename or "clip").replace("/", "_").replace("\\", "_")[-128:]
    return name, data, file.content_type or "application/octet-stream"


def down(state: AppState) -> list[str]:
    """audio_service is unreachable: count it and name it in the answer's ``degraded``."""
    state.metrics.inc("gateway_degraded_responses_total", component="audio")
    return ["audio"]


async def by_audio_id(state: AppState, audio_ids: list[str]) -> dict[str, Song]:
    """The songs of these audio ids (an id with no song, e.g. deleted since, is left out)."""
    _, found, _ = await run_in_threadpool(recommending.lookup_keys, state, (), audio_ids, ())
    return found


def refused(exc: ServiceRejected, default: str = "bad_audio") -> NoReturn:
    """audio_service's 4xx, passed on with its code and message."""
    try:
        err = ErrorResponse.model_validate(exc.body).error
    except ValidationError:
        err = ErrorBody(code=default, message="unreadable audio")
    raise ApiError(exc.status if 400 <= exc.status < 500 else 422, err.message, code=err.code, details=err.details)


@router.post("/api/audio/query", response_model=SoundQueryOut, responses=LIMITED)
async def query_by_sound(
    state: State, request: Request, file: UploadFile, n: Annotated[int, Query(ge=1, le=50)] = 10
) -> SoundQueryOut:
    """Upload a clip (≤ MAX_UPLOAD_MB): songs that sound like it, with the matching segments."""
    await state.audio_query_limiter.take([f"ip:{client_address(request)}"], "sound searches from this address")
    name, data, content_type = await read_clip(state, request, file)
    try:
        body = await state.audio.query(name, data, content_type, n)
    except ServiceRejected as exc:
        refused(exc)
    except ServiceDown:
        return SoundQueryOut(items=[], degraded=down(state))
    songs = await by_audio_id(state, [i.song_id for i in body.items])
    return SoundQueryOut(
        items=[
            SoundMatch(
                song=SongOut.of(songs[i.song_id]),
                score=i.score,
                segments=[Segment(**seg.model_dump()) for seg in i.segments],
            )
            for i in body.items
            if i.song_id in songs
        ],
        degraded=[],
    )


@router.get("/api/songs/{song_id}/versions", response_model=VersionsOut)
async def possible_versions(state: State, song_id: int, n: Annotated[int, Query(ge=1, le=50)] = 10) -> VersionsOut:
    """Songs that may be versions of this one, or borrow a passage from it: the same music in another key, tempo
    or instrumentation (the version model), best first, only above its threshold. A song without a recording has
    none; compare any two with `POST /api/audio/compare` to see the passages."""
    _, _, by_id = await run_in_threadpool(recommending.lookup_keys, state, (), (), [song_id])
    song = by_id.get(song_id)
    if song is None:
        raise ApiError(404, f"no song {song_id}", code="song_not_found")
    if not song.audio_id:
        return VersionsOut(items=[], threshold=0.0, ready=True, degraded=[])
    try:
        body = await state.audio.versions(song.audio_id, n)
    except ServiceRejected as exc:
        not_yet = exc.status == 404  # not analysed yet (a library file waiting for its turn)
        return VersionsOut(items=[], threshold=0.0, ready=False, degraded=[] if not_yet else down(state))
    except ServiceDown:
        return VersionsOut(items=[], threshold=0.0, ready=False, degraded=down(state))
    songs = await by_audio_id(state, [i.song_id for i in body.items])
    return VersionsOut(
        items=[
            VersionOut(song=SongOut.of(songs[i.song_id]), **i.model_dump(exclude={"song_id"}))
            for i in body.items
            if i.song_id in songs
        ],
        threshold=body.threshold,
        ready=body.ready,
        degraded=[],
    )


@router.post("/api/audio/hum", response_model=HumOut, responses=LIMITED)
async def query_by_humming(
    state: State, request: Request, file: UploadFile, n: Annotated[int, Query(ge=1, le=50)] = 10
) -> HumOut:
    """Hum, sing or whistle a tune (a recording ≤ MAX_UPLOAD_MB, 5-20 s is best): songs whose melody it
    follows, in any key and at any tempo, with the passage matched. Songs are searched by the melodies of their
    scores (the catalog's songs)."""
    await state.audio_query_limiter.take([f"ip:{client_address(request)}"], "sound searches from this address")
    name, data, content_type = await read_clip(state, request, file)
    try:
        body = await state.audio.hum(name, data, content_type, n)
    except ServiceRejected as exc:
        refused(exc)
    except ServiceDown:
        return HumOut(items=[], sung_s=0.0, n_melodies=0, degraded=down(state))
    songs = await by_audio_id(state, [i.song_id for i in body.items])
    return HumOut(
        items=[
            HumItem(song=SongOut.of(songs[i.song_id]), **i.model_dump(exclude={"song_id"}))
            for i in body.items
            if i.song_id in songs
        ],
        sung_s=body.sung_s,
        n_melodies=body.n_melodies,
        degraded=[],
    )


@router.post("/api/audio/compare", response_model=CompareOut, responses=LIMITED)
async def compare_recordings(
    state: State,
    request: Request,
    a: Annotated[int | None, Form(ge=1, description="A song with a recording")] = None,
    b: Annotated[int | None, Form(ge=1, description="A song with a recording")] = None,
    file_a: Annotated[UploadFile | None, File(description="A clip instead of song a")] = None,
    file_b: Annotated[UploadFile | None, File(description="A clip instead of song b")] = None,
) -> CompareOut:
    """Do two recordings share music? Each side is a song (`a`, `b`) or an uploaded clip (`file_a`, `file_b`).

    The answer gives the key and tempo between them (`b` relative to `a`), the passages where they play the same
    music with their times in each, an overall similarity (the best passage's score; 0 below the threshold) and the
    cross-similarity picture. Melody and harmony are compared (chroma), so a cover in another key, at another tempo
    and with other instruments is found; a different song in the same style is not.
    """
    for name, song_id, upload in (("a", a, file_a), ("b", b, file_b)):
        if (song_id is None) == (upload is None):
            raise ApiError(
                422,
                f"give exactly one of {name} (a song id) or file_{name} (a clip)",
                code="bad_request",
                details=[{"field": name}],
            )
    await state.audio_query_limiter.take([f"ip:{client_address(request)}"], "sound searches from this address")
    wanted = [s for s in (a, b) if s is not None]
    _, _, by_id = await run_in_threadpool(recommending.lookup_keys, state, (), (), wanted)
    songs: list[Song | None] = []
    sides: list[str | Clip] = []
    for name, song_id, upload in (("a", a, file_a), ("b", b, file_b)):
        if song_id is not None:
            song = by_id.get(song_id)
            if song is None:
                raise ApiError(404, f"no song {song_id}", code="song_not_found", details=[{"field": name}])
            if not song.audio_id:
                raise ApiError(
                    404, f"song {song_id} has no recording to compare", code="no_recording", details=[{"field": name}]
                )
            songs.append(song)
            sides.append(song.audio_id)
        else:
            assert upload is not None
            songs.append(None)
            sides.append(await read_clip(state, request, upload, f"file_{name}"))
    try:
        body = await state.audio.compare(sides[0], sides[1])
    except ServiceRejected as exc:
        refused(exc)
    except ServiceDown:
        return CompareOut(
            a=SongOut.of(songs[0]) if songs[0] else None,
            b=SongOut.of(songs[1]) if songs[1] else None,
            similarity=0.0,
            threshold=0.0,
            verdict="no shared passage",
            transpose_semitones=0,
            tempo_ratio=1.0,
            a_duration_s=0.0,
            b_duration_s=0.0,
            passages=[],
            matrix=[],
            degraded=down(state),
        )
    return CompareOut(
        a=SongOut.of(songs[0]) if songs[0] else None,
        b=SongOut.of(songs[1]) if songs[1] else None,
        similarity=body.similarity,
        threshold=body.threshold,
        verdict="same music" if body.passages else "no shared passage",
        transpose_semitones=body.transpose_semitones,
        tempo_ratio=body.tempo_ratio,
        a_duration_s=body.a_duration_s,
        b_duration_s=body.b_duration_s,
        passages=[PassageOut(**p.model_dump()) for p in body.passages],
        matrix=body.matrix,
        degraded=[],
    )
