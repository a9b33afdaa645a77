"""Recommendations, similar songs, radio, search by sound and the catalog map.

Every answer is 200 with what is available: a source that is down or slow is
left out and named in ``degraded`` (``cf``, ``audio``, ``cache``); nothing a
downstream service does turns into a 5xx here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from musicrec_common import keys
from musicrec_common.web import ApiError

from gateway.app import recommending
from gateway.app.deps import MaybeUser, State, User, state_stamp
from gateway.app.schemas import (
    MapOut,
    MapPoint,
    RadioOut,
    RecItem,
    RecsOut,
    SongOut,
    WhyOut,
)
from gateway.app.state import AppState
from gateway.core.fusion import Fused
from gateway.core.modes import MODES, Mode, describe
from gateway.db.models import Song
from gateway.db.recs import Profile, load_profile, played_since

router = APIRouter(tags=["recommendations"])
# The values come from the mode table (gateway.core.modes); the OpenAPI enum is filled in from it too.
ModeParam = Annotated[str | None, Query(max_length=64, description=f"Default RECS_DEFAULT_MODE. {describe()}")]
ScopeParam = Annotated[
    Literal["all", "library"] | None,
    Query(
        description="`library`: only songs your music folder can play; `all`: any song. "
        "Default: `library` once the music folder has a playable song, else `all`."
    ),
]


async def scoped(state: AppState, ctx: recommending.Context, scope: str | None) -> Literal["all", "library"]:
    """Apply the request's scope (or the default one) to ``ctx``; returns the scope used."""
    # Read again in a worker thread only when stale: most requests find it fresh (no thread hop on this path).
    playable = state.library.fresh()
    if playable is None:
        playable = await run_in_threadpool(state.library.refresh_if_stale)
    chosen: Literal["all", "library"]
    if scope is None:
        chosen = "library" if playable.song_ids else "all"
    else:
        chosen = "library" if scope == "library" else "all"
    if chosen == "library":
        ctx.within, ctx.within_cf = playable.song_ids, playable.cf_keys
    return chosen


def mode_for(state: AppState, name: str | None, *, song: bool = False) -> Mode:
    """The row of the mode table a request names (the configured default when it names none); 422 if none."""
    mode = MODES.get(state.settings.recs_default_mode if name is None else name)
    if mode is None or (song and not mode.song):
        usable = sorted(m.name for m in MODES.values() if m.song or not song)
        raise ApiError(
            422,
            "invalid request: mode",
            code="validation_error",
            details=[{"field": "mode", "message": f"mode must be one of {usable}"}],
        )
    return mode


WHY_KIND: dict[str, Literal["listeners", "sound", "popular", "tags", "history"]] = {
    "cf": "listeners",
    "audio": "sound",
    "tags": "tags",
    "history": "history",
}


def _why(f: Fused, songs: dict[int, Song]) -> list[WhyOut]:
    out = [
        WhyOut(
            kind=WHY_KIND.get(w.source, "popular"),
            text=w.text,
            song=SongOut.of(songs[w.about]) if w.about is not None and w.about in songs else None,
        )
        for w in f.why
    ]
    return out or [WhyOut(kind="popular", text="popular with listeners")]


def rec_items(fused: Sequence[Fused], songs: dict[int, Song]) -> list[RecItem]:
    return [
        RecItem(
            song=SongOut.of(songs[f.song_id]),
            score=round(f.score, 6),
            reasons=f.reasons or ["popular with listeners"],
            sources=f.sources,
            basis=recommending.basis(f.sources),
            why=_why(f, songs),
        )
        for f in fused
        if f.song_id in songs
    ]


async def with_named(state: AppState, fused: Sequence[Fused], songs: dict[int, Song]) -> dict[int, Song]:
    """``songs`` plus the songs the reasons name that no source looked up (the listener's own recent plays)."""
    missing = {w.about for f in fused for w in f.why if w.about is not None and w.about not in songs}
    if not missing:
        return songs
    _, _, by_id = await run_in_threadpool(recommending.lookup_keys, state, (), (), sorted(missing))
    return songs | by_id


@router.get("/api/me/recommendations", response_model=RecsOut)
async def my_recommendations(
    state: State,
    user: User,
    mode: ModeParam = None,
    n: Annotated[int, Query(ge=1, le=100)] = 20,
    scope: ScopeParam = None,
) -> RecsOut | Response:
    """Songs for you, in the mode you choose (see the `mode` parameter); each song says why it is there
    (`reasons`) and what put it there (`basis`: listeners, sound, both)."""
    degraded: set[str] = set()
    chosen = mode_for(state, mode)
    ctx = recommending.Context(state, degraded)
    used = await scoped(state, ctx, scope)
    # The stamp changes with every play, rating or like: a new stamp is a new field, so writes invalidate
    # (and delete the user's hash: see gateway.app.cache).
    stamp = await state_stamp(state, user.id, degraded)
    key, field = keys.user_recs(user.id), keys.user_recs_field(stamp, chosen.name, n, used)
    cached = await state.cache.get_raw(key, "user_recs", degraded, field)
    if cached is not None:
        return Response(content=cached, media_type="application/json")  # stored already validated
    ctx.profile = await run_in_threadpool(load_listener, state, user.id)
    await recommending.with_taste(ctx)
    fused = await recommending.for_user(ctx, chosen, n)
    out = RecsOut(
        mode=chosen.name,
        scope=used,
        items=rec_items(fused, await with_named(state, fused, ctx.songs)),
        degraded=sorted(degraded),
        fallback=ctx.fallback,
        left_out=ctx.left_out,
        refilled=ctx.refilled,
    )
    for component in degraded:
        state.metrics.inc("gateway_degraded_responses_total", component=component)
    if not degraded - {"cache"}:
        await state.cache.set_json(key, out.model_dump(mode="json"), state.settings.recs_cache_ttl_s, degraded, field)
    return out


def load_listener(state: AppState, user_id: int) -> Profile:
    with state.sessions() as session:
        return load_profile(session, user_id)


async def seed_song(state: AppState, song_id: int) -> Song:
    _, _, by_id = await run_in_threadpool(recommending.lookup_keys, state, (), (), [song_id])
    if song_id not in by_id:
        raise ApiError(404, f"no song {song_id}", code="song_not_found")
    return by_id[song_id]


@router.get("/api/songs/{song_id}/similar", response_model=RecsOut)
async def similar_songs(
    state: State,
    song_id: int,
    mode: ModeParam = None,
    n: Annotated[int, Query(ge=1, le=100)] = 12,
    scope: ScopeParam = None,
) -> RecsOut:
    """Songs like this one, in the mode you choose: played by the same listeners, sounding alike, or both."""
    degraded: set[str] = set()
    chosen = mode_for(state, mode, song=True)
    ctx = recommending.Context(state, degraded, depth=max(n, 50))
    used = await scoped(state, ctx, scope)
    key = keys.song_similar(song_id, chosen.name, n, used)
    cached = await state.cache.get_json(key, "song_similar", degraded)
    if cached is not None:
        return RecsOut.model_validate(cached)
    ctx.seed = await seed_song(state, song_id)
    fused = await recommending.for_song(ctx, chosen, n)
    out = RecsOut(
        mode=chosen.name,
        scope=used,
        items=rec_items(fused, await with_named(state, fused, ctx.songs)),
        degraded=sorted(degraded),
    )
    if not degraded:
        await state.cache.set_json(key, out.model_dump(mode="json"), state.settings.recs_cache_ttl_s, degraded)
    return out


RADIO_LENGTH = 25
RADIO_POOL = 100
RADIO_HOLD_DAYS = 2.0  # a song played this lately rests before radio plays it again


def played_lately(state: AppState, user_id: int) -> set[int]:
    with state.sessions() as session:
        return played_since(session, user_id, RADIO_HOLD_DAYS)


@router.get("/api/songs/{song_id}/radio", response_model=RadioOut)
async def radio(state: State, song_id: int, user: MaybeUser, scope: ScopeParam = None) -> RadioOut:
    """A 25-song mix from one song: sound and co-listening together, no repeats, at most 2 songs per artist, drawn
    from the 100 best by rank weight (seeded by the listener and the day: new every day). Logged in, it listens
    back: no disliked song, songs played in the last two days rest, your exclusion rules apply, skipped artists
    and their neighbours are lowered (or left out)."""
    degraded: set[str] = set()
    seed = await seed_song(state, song_id)
    ctx = recommending.Context(state, degraded, seed=seed, depth=100)
    used = await scoped(state, ctx, scope)
    exclude: frozenset[int] = frozenset()
    if user is not None:
        ctx.profile = await run_in_threadpool(load_listener, state, user.id)
        await recommending.with_taste(ctx)
        exclude = frozenset(ctx.profile.disliked)
    fused = await recommending.for_song(ctx, MODES["hybrid"], 25, max_per_artist=2, artist_window=25, exclude=exclude)
    return RadioOut(
        seed=SongOut.of(seed),
        scope=used,
        items=rec_items(fused, await with_named(state, fused, ctx.songs)),
        degraded=sorted(degraded),
        left_out=ctx.left_out,
        refilled=ctx.refilled,
    )


@router.get("/api/catalog/map", response_model=MapOut, tags=["audio"])
async def catalog_map(state: State) -> MapOut:
    """Every catalog song as a point of a 2-D projection of its audio embedding, for the map view."""
    degraded: set[str] = set()
    points = await recommending.map_points(state, degraded)
    if "audio" in degraded:
        return MapOut(points=[], collections=[], degraded=["audio"])
    _, by_audio, _ = await run_in_threadpool(recommending.lookup_keys, state, (), [p.song_id for p in points], ())
    out = [
        MapPoint(
            song_id=by_audio[p.song_id].id,
            x=p.x,
            y=p.y,
            collection=by_audio[p.song_id].collection or p.collection,
            title=by_audio[p.song_id].title,
        )
        for p in points
        if p.song_id in by_audio
    ]
    return MapOut(
        points=out, collections=sorted({p.collection for p in out if p.collection}), degraded=sorted(degraded)
    )
