"""Recommendations, similar songs, radio, search by sound and the catalog map.

Every answer is 200 with what is available: a source that is down or slow is
left out and named in ``degraded`` (``cf``, ``audio``, ``cache``); nothing a
downstream service does turns into a 5xx here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError
from pydantic import BaseModel, Field

from gateway.app.cache import Cache, user_recs_key
from gateway.app.deps import State, User, client_address, state_stamp
from gateway.app.downstream import ServiceDown, ServiceRejected, call
from gateway.app.schemas import SongOut
from gateway.app.state import AppState
from gateway.core.fusion import Candidate, Fused, fuse, named_first_on_ties
from gateway.db.catalog import chart
from gateway.db.export import cf_song_key
from gateway.db.models import Song
from gateway.db.recs import Profile, load_profile, songs_by_cf_keys, songs_by_keys

router = APIRouter(tags=["recommendations"])
Mode = Literal["hybrid", "cf", "audio"]
CF_DEPTH = 100  # candidates asked of cf_service; matches the precomputed top-100
AUDIO_DEPTH = 30  # neighbours per audio seed


class RecItem(BaseModel):
    song: SongOut
    score: float
    reasons: list[str]
    sources: dict[str, int] = Field(description="Rank of the song in each source's list")


class RecsOut(BaseModel):
    mode: str
    items: list[RecItem]
    degraded: list[str] = Field(description="Components left out of this answer: cf, audio, cache")
    fallback: str | None = Field(default=None, description="`popular` when the list is not personalised")


class RadioOut(BaseModel):
    seed: SongOut
    items: list[RecItem]
    degraded: list[str]


class Segment(BaseModel):
    query_start: float
    query_end: float
    song_start: float
    song_end: float
    score: float


class SoundMatch(BaseModel):
    song: SongOut
    score: float
    segments: list[Segment]


class SoundQueryOut(BaseModel):
    items: list[SoundMatch]
    degraded: list[str]


class MapPoint(BaseModel):
    song_id: int
    x: float
    y: float
    collection: str | None
    title: str | None


class MapOut(BaseModel):
    points: list[MapPoint]
    collections: list[str]
    degraded: list[str]


def _cache(state: AppState) -> Cache:
    return state.cache


async def _cf(state: AppState, method: str, path: str, **kw: Any) -> Any:
    s = state.settings
    return await call(
        state.http, state.metrics, "cf", s.cf_service_url, method, path, timeout=s.service_timeout_s, **kw
    )


async def _audio(state: AppState, method: str, path: str, **kw: Any) -> Any:
    s = state.settings
    return await call(
        state.http, state.metrics, "audio", s.audio_service_url, method, path, timeout=s.service_timeout_s, **kw
    )


# --- sources ------------------------------------------------------------------------------


async def cf_for_user(state: AppState, profile: Profile, degraded: set[str]) -> tuple[list[dict[str, Any]], bool]:
    """cf items (``song_id`` = MSD id, ``because``) and whether they are a popularity fallback."""
    cache = _cache(state)
    if profile.msd_user_id and not profile.app_activity:
        # The listener is in the training data and did nothing since: the precomputed list holds.
        version = await cache.get_str("cf:version", degraded)
        if version:
            items = await cache.get_json(f"cf:{version}:recs:{profile.msd_user_id}", "cf_recs", degraded)
            if items is not None:
                return items, False
        try:
            body = await _cf(state, "GET", f"/recommendations/{profile.msd_user_id}", params={"n": CF_DEPTH})
        except (ServiceDown, ServiceRejected):
            degraded.add("cf")
            return [], False
        return body["items"], body.get("fallback") == "popular"
    try:
        body = await _cf(
            state,
            "POST",
            "/recommendations/fold-in",
            json={
                "history": [{"song_id": s, "play_count": max(1, round(w))} for s, w in profile.history[:5000]],
                "n": CF_DEPTH,
            },
        )
    except (ServiceDown, ServiceRejected):
        degraded.add("cf")
        return [], False
    return body["items"], body.get("fallback") == "popular"


async def audio_similar(state: AppState, audio_id: str, n: int, degraded: set[str]) -> list[dict[str, Any]]:
    """Songs that sound like ``audio_id`` (audio ids and cosine scores), cache-aside."""
    cache = _cache(state)
    key = f"gw:asim:{audio_id}:{n}"
    cached = await cache.get_json(key, "audio_similar", degraded)
    if cached is not None:
        return list(cached)
    try:
        body = await _audio(state, "GET", f"/similar/{audio_id}", params={"n": n})
    except ServiceRejected:
        return []  # the song is not in the index (yet)
    except ServiceDown:
        degraded.add("audio")
        return []
    items = list(body.get("items", []))
    await cache.set_json(key, items, state.settings.recs_cache_ttl_s, degraded)
    return items


async def cf_similar(state: AppState, msd_song_id: str, n: int, degraded: set[str]) -> list[dict[str, Any]]:
    cache = _cache(state)
    version = await cache.get_str("cf:version", degraded)
    if version:
        items = await cache.get_json(f"cf:{version}:similar:{msd_song_id}", "cf_similar", degraded)
        if items is not None:
            return list(items)[:n]
    try:
        body = await _cf(state, "GET", f"/similar/{msd_song_id}", params={"n": n})
    except (ServiceDown, ServiceRejected):
        degraded.add("cf")
        return []
    if body.get("fallback"):
        return []  # an unknown song has no co-listening neighbours
    return list(body["items"])


# --- assembling ---------------------------------------------------------------------------


def _title(song: Song | None) -> str:
    if song is None:
        return "a song you played"
    return f"{song.title} by {song.artist}" if song.title and song.artist else (song.title or "a song you played")


def _items(fused: Sequence[Fused], songs: dict[int, Song]) -> list[RecItem]:
    return [
        RecItem(
            song=SongOut.of(songs[f.song_id]),
            score=round(f.score, 6),
            reasons=f.reasons or ["popular with listeners"],
            sources=f.sources,
        )
        for f in fused
        if f.song_id in songs
    ]


def _named(song: Song | None) -> bool:
    return song is not None and bool(song.title) and bool(song.artist)


def _named_ids(songs: dict[int, Song]) -> set[int]:
    return {sid for sid, song in songs.items() if _named(song)}


def _cf_candidates(items: list[dict[str, Any]], by_msd: dict[str, Song], fallback: bool) -> list[Candidate]:
    out = []
    items = named_first_on_ties(items, lambda i: float(i.get("score", 0.0)), lambda i: _named(by_msd.get(i["song_id"])))
    for rank, item in enumerate(items, start=1):
        song = by_msd.get(item["song_id"])
        if song is None:
            continue
        because = item.get("because") or []
        if fallback:
            reason = "popular with listeners"
        elif because and by_msd.get(because[0]["song_id"]):
            reason = f"because you played {_title(by_msd[because[0]['song_id']])}"
        else:
            reason = "popular with listeners like you"
        out.append(Candidate(song.id, rank, float(item.get("score", 0.0)), reason))
    return out


def _audio_candidates(lists: list[tuple[str, list[dict[str, Any]]]], by_audio: dict[str, Song]) -> list[Candidate]:
    """Several seeds' neighbour lists, merged by best rank; reason names the seed."""
    best: dict[int, Candidate] = {}
    for seed_title, items in lists:
        for rank, item in enumerate(items, start=1):
            song = by_audio.get(item["song_id"])
            if song is None:
                continue
            if song.id not in best or rank < best[song.id].rank:
                best[song.id] = Candidate(song.id, rank, float(item.get("score", 0.0)), f"sounds like {seed_title}")
    return sorted(best.values(), key=lambda c: (c.rank, -c.score))


async def _popular_from_db(state: AppState, n: int, exclude: set[int]) -> list[Candidate]:
    def work() -> list[Candidate]:
        with state.sessions() as session:
            rows = chart(session, since=None, n=n + len(exclude))
        ranked = [song.id for song, _ in rows if song.id not in exclude]
        return [Candidate(sid, r, 0.0, "popular with listeners") for r, sid in enumerate(ranked[:n], start=1)]

    return await run_in_threadpool(work)


@router.get("/api/me/recommendations", response_model=RecsOut)
async def my_recommendations(
    state: State, user: User, mode: Mode = "hybrid", n: Annotated[int, Query(ge=1, le=100)] = 20
) -> RecsOut | Response:
    """Songs for you: `cf` (listeners like you), `audio` (sounds like your recent plays) or `hybrid` (both, fused)."""
    degraded: set[str] = set()
    # The stamp changes with every play, rating or like: a new stamp is a new field, so writes invalidate
    # (and delete the user's hash: see gateway.app.cache).
    stamp = await state_stamp(state, user.id, degraded)
    key, field = user_recs_key(user.id), f"{stamp}:{mode}:{n}"
    cached = await _cache(state).get_raw(key, "user_recs", degraded, field)
    if cached is not None:
        return Response(content=cached, media_type="application/json")  # stored already validated
    profile = await run_in_threadpool(_profile, state, user.id)

    want_cf, want_audio = mode in ("hybrid", "cf"), mode in ("hybrid", "audio")
    cf_task = cf_for_user(state, profile, degraded) if want_cf else _none()
    seeds = profile.audio_seeds if want_audio else []
    audio_tasks = [audio_similar(state, audio_id, AUDIO_DEPTH, degraded) for _, audio_id, _ in seeds]
    (cf_items, cf_fallback), *audio_lists = await asyncio.gather(cf_task, *audio_tasks)

    msd_ids = [i["song_id"] for i in cf_items] + [b["song_id"] for i in cf_items for b in (i.get("because") or [])]
    audio_ids = [i["song_id"] for lst in audio_lists for i in lst]
    by_msd, by_audio = await run_in_threadpool(_lookup_cf, state, msd_ids, audio_ids)
    lists: dict[str, list[Candidate]] = {}
    if want_cf:
        lists["cf"] = _cf_candidates(cf_items, by_msd, cf_fallback)
    if want_audio:
        lists["audio"] = _audio_candidates(
            [(t, lst) for (_, _, t), lst in zip(seeds, audio_lists, strict=True)], by_audio
        )
    fallback = "popular" if cf_fallback else None
    if want_cf and "cf" in degraded and not lists.get("audio"):
        # cf_service is down and sound gives nothing: the charts keep the page useful.
        lists["cf"] = await _popular_from_db(state, n, profile.seen)
        fallback = "popular"
    songs = {s.id: s for s in [*by_msd.values(), *by_audio.values()]}
    weights = {"cf": state.settings.hybrid_cf_weight, "audio": state.settings.hybrid_audio_weight}
    if lists.get("cf") and any(c.song_id not in songs for c in lists["cf"]):
        songs.update((await run_in_threadpool(_lookup, state, (), (), [c.song_id for c in lists["cf"]]))[2])
    fused = fuse(
        lists,
        weights,
        n=n,
        exclude=profile.seen,
        artist_of={k: v.artist for k, v in songs.items()},
        named=_named_ids(songs),
    )
    out = RecsOut(mode=mode, items=_items(fused, songs), degraded=sorted(degraded), fallback=fallback)
    for component in degraded:
        state.metrics.inc("gateway_degraded_responses_total", component=component)
    if not degraded - {"cache"}:
        await _cache(state).set_json(key, out.model_dump(mode="json"), state.settings.recs_cache_ttl_s, degraded, field)
    return out


async def _none() -> tuple[list[dict[str, Any]], bool]:
    return [], False


def _profile(state: AppState, user_id: int) -> Profile:
    with state.sessions() as session:
        return load_profile(session, user_id)


def _lookup_cf(state: AppState, cf_keys: Any, audio_ids: Any) -> tuple[dict[str, Song], dict[str, Song]]:
    """Songs by cf key (MSD id or ``gw:<id>``) and by audio id."""
    with state.sessions() as session:
        return songs_by_cf_keys(session, cf_keys), songs_by_keys(session, (), audio_ids)[1]


def _lookup(
    state: AppState, msd_ids: Any, audio_ids: Any, ids: Any
) -> tuple[dict[str, Song], dict[str, Song], dict[int, Song]]:
    with state.sessions() as session:
        return songs_by_keys(session, msd_ids, audio_ids, ids)


async def _seed(state: AppState, song_id: int) -> Song:
    _, _, by_id = await run_in_threadpool(_lookup, state, (), (), [song_id])
    if song_id not in by_id:
        raise ApiError(404, f"no song {song_id}", code="song_not_found")
    return by_id[song_id]


async def _similar_lists(
    state: AppState, seed: Song, mode: str, depth: int, degraded: set[str]
) -> tuple[dict[str, list[Candidate]], dict[int, Song]]:
    seed_title = _title(seed)
    cf_task = cf_similar(state, cf_song_key(seed.id, seed.msd_song_id), depth, degraded) if mode != "audio" else None
    audio_task = audio_similar(state, seed.audio_id, depth, degraded) if mode != "cf" and seed.audio_id else None
    cf_items = await cf_task if cf_task else []
    audio_items = await audio_task if audio_task else []
    by_msd, by_audio = await run_in_threadpool(
        _lookup_cf, state, [i["song_id"] for i in cf_items], [i["song_id"] for i in audio_items]
    )
    lists: dict[str, list[Candidate]] = {}
    if cf_items:
        lists["cf"] = [
            Candidate(by_msd[i["song_id"]].id, r, float(i.get("score", 0.0)), f"often played with {seed_title}")
            for r, i in enumerate(cf_items, start=1)
            if i["song_id"] in by_msd
        ]
    if audio_items:
        lists["audio"] = [
            Candidate(by_audio[i["song_id"]].id, r, float(i.get("score", 0.0)), f"sounds like {seed_title}")
            for r, i in enumerate(audio_items, start=1)
            if i["song_id"] in by_audio
        ]
    songs = {s.id: s for s in [*by_msd.values(), *by_audio.values()]}
    return lists, songs


@router.get("/api/songs/{song_id}/similar", response_model=RecsOut)
async def similar_songs(
    state: State, song_id: int, mode: Mode = "hybrid", n: Annotated[int, Query(ge=1, le=100)] = 12
) -> RecsOut:
    """Songs like this one: played by the same listeners (`cf`), sounding alike (`audio`), or both (`hybrid`)."""
    degraded: set[str] = set()
    key = f"gw:similar:{song_id}:{mode}:{n}"
    cached = await _cache(state).get_json(key, "song_similar", degraded)
    if cached is not None:
        return RecsOut.model_validate(cached)
    seed = await _seed(state, song_id)
    lists, songs = await _similar_lists(state, seed, mode, max(n, 50), degraded)
    weights = {"cf": state.settings.hybrid_cf_weight, "audio": state.settings.hybrid_audio_weight}
    fused = fuse(
        lists,
        weights,
        n=n,
        exclude={seed.id},
        artist_of={k: v.artist for k, v in songs.items()},
        named=_named_ids(songs),
    )
    out = RecsOut(mode=mode, items=_items(fused, songs), degraded=sorted(degraded))
    if not degraded:
        await _cache(state).set_json(key, out.model_dump(mode="json"), state.settings.recs_cache_ttl_s, degraded)
    return out


@router.get("/api/songs/{song_id}/radio", response_model=RadioOut)
async def radio(state: State, song_id: int) -> RadioOut:
    """A 25-song mix from one song: sound and co-listening together, no repeats, at most 2 songs per artist."""
    degraded: set[str] = set()
    seed = await _seed(state, song_id)
    lists, songs = await _similar_lists(state, seed, "hybrid", 100, degraded)
    weights = {"cf": state.settings.hybrid_cf_weight, "audio": state.settings.hybrid_audio_weight}
    fused = fuse(
        lists,
        weights,
        n=25,
        exclude={seed.id},
        artist_of={k: v.artist for k, v in songs.items()},
        max_per_artist=2,
        artist_window=25,
        named=_named_ids(songs),
    )
    return RadioOut(seed=SongOut.of(seed), items=_items(fused, songs), degraded=sorted(degraded))


@router.post(
    "/api/audio/query",
    response_model=SoundQueryOut,
    tags=["audio"],
    responses={429: {"model": ErrorResponse, "description": "Too many sound searches from this address"}},
)
async def query_by_sound(
    state: State, request: Request, file: UploadFile, n: Annotated[int, Query(ge=1, le=50)] = 10
) -> SoundQueryOut:
    """Upload a clip (≤ MAX_UPLOAD_MB): songs that sound like it, with the matching segments.

    Open to anonymous visitors, so each address gets AUDIO_QUERY_LIMIT searches per AUDIO_QUERY_WINDOW_S
    (every attempt counts, a rejected file too: decoding it cost the service as much).
    """
    await state.audio_query_limiter.take([f"ip:{client_address(request)}"], "sound searches from this address")
    limit = int(state.settings.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise ApiError(413, f"the clip is larger than {state.settings.max_upload_mb:g} MB", code="payload_too_large")
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the clip is larger than {state.settings.max_upload_mb:g} MB", code="payload_too_large")
    if not data:
        raise ApiError(422, "the uploaded file is empty", code="bad_audio", details=[{"field": "file"}])
    name = (file.filename or "clip").replace("/", "_").replace("\\", "_")[-128:]
    try:
        body = await call(
            state.http,
            state.metrics,
            "audio",
            state.settings.audio_service_url,
            "POST",
            "/query",
            timeout=max(state.settings.service_timeout_s, 15.0),
            params={"n": n},
            files={"file": (name, data, file.content_type or "application/octet-stream")},
        )
    except ServiceRejected as exc:
        err = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        raise ApiError(
            exc.status if 400 <= exc.status < 500 else 422,
            err.get("message", "unreadable audio"),
            code=err.get("code", "bad_audio"),
            details=err.get("details"),
        ) from exc
    except ServiceDown:
        state.metrics.inc("gateway_degraded_responses_total", component="audio")
        return SoundQueryOut(items=[], degraded=["audio"])
    items = body.get("items", [])
    _, by_audio, _ = await run_in_threadpool(_lookup, state, (), [i["song_id"] for i in items], ())
    return SoundQueryOut(
        items=[
            SoundMatch(
                song=SongOut.of(by_audio[i["song_id"]]),
                score=float(i["score"]),
                segments=[Segment(**seg) for seg in i.get("segments", [])],
            )
            for i in items
            if i["song_id"] in by_audio
        ],
        degraded=[],
    )


@router.get("/api/catalog/map", response_model=MapOut, tags=["audio"])
async def catalog_map(state: State) -> MapOut:
    """Every catalog song as a point of a 2-D projection of its audio embedding, for the map view."""
    degraded: set[str] = set()
    points = await _cache(state).get_json("gw:map", "map", degraded)
    if points is None:
        try:
            body = await _audio(state, "GET", "/map")
        except (ServiceDown, ServiceRejected):
            return MapOut(points=[], collections=[], degraded=["audio"])
        points = body.get("points", [])
        await _cache(state).set_json("gw:map", points, state.settings.recs_cache_ttl_s, degraded)
    _, by_audio, _ = await run_in_threadpool(_lookup, state, (), [p["song_id"] for p in points], ())
    out = [
        MapPoint(
            song_id=by_audio[p["song_id"]].id,
            x=float(p["x"]),
            y=float(p["y"]),
            collection=by_audio[p["song_id"]].collection or p.get("collection"),
            title=by_audio[p["song_id"]].title,
        )
        for p in points
        if p["song_id"] in by_audio
    ]
    return MapOut(
        points=out, collections=sorted({p.collection for p in out if p.collection}), degraded=sorted(degraded)
    )
