"""Fresh mixes: the daily mix and "rediscover" (radio's daily draw is in :mod:`gateway.app.routes.recommend`).

The candidates are the fused list of the listener (cf and sound, their signals and rules applied); the draw is
:mod:`gateway.core.mixes` (rank-weighted, seeded by the listener and the day).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorResponse

from gateway.app import recommending
from gateway.app.deps import State, User
from gateway.app.routes.recommend import ScopeParam, load_listener, rec_items, scoped, with_named
from gateway.app.schemas import MixOut
from gateway.app.state import AppState
from gateway.core import mixes
from gateway.core.fusion import Fused, Why
from gateway.core.modes import MODES
from gateway.db.recs import rediscover_candidates

router = APIRouter(
    prefix="/api/me/mixes",
    tags=["recommendations"],
    responses={401: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)

POOL = 300  # fused candidates a mix is drawn from
QUIET_DAYS = 30


async def _pool(
    state: AppState, user_id: int, degraded: set[str], scope: str | None
) -> tuple[recommending.Context, Literal["all", "library"]]:
    ctx = recommending.Context(state, degraded, cf_depth=POOL)
    used = await scoped(state, ctx, scope)
    ctx.profile = await run_in_threadpool(load_listener, state, user_id)
    await recommending.with_taste(ctx)
    return ctx, used


@router.get("/daily", response_model=MixOut)
async def daily_mix(
    state: State, user: User, n: Annotated[int, Query(ge=1, le=100)] = 50, scope: ScopeParam = None
) -> MixOut:
    """Your daily mix: songs new to you, drawn from your recommendations by rank weight, seeded by you and the day
    (the same all day, fresh the next; yesterday's songs mostly rest), at most 2 per artist, your skips, dislikes
    and exclusion rules applied."""
    degraded: set[str] = set()
    ctx, used = await _pool(state, user.id, degraded, scope)
    fused = await recommending.for_user(ctx, MODES["hybrid"], POOL)
    by_id = {f.song_id: f for f in fused}
    day = mixes.today()
    drawn = mixes.daily(
        [f.song_id for f in fused], n, user.id, day, artist_of={k: v.artist for k, v in ctx.songs.items()}
    )
    return await _answer("daily", day, used, [by_id[s] for s in drawn], ctx)


@router.get("/rediscover", response_model=MixOut)
async def rediscover(
    state: State, user: User, n: Annotated[int, Query(ge=2, le=100)] = 30, scope: ScopeParam = None
) -> MixOut:
    """Songs you liked or played often but not in the last 30 days, mixed half and half with new ones, in a flowing
    order: each next song close in sound to the one before (where both have audio)."""
    degraded: set[str] = set()
    ctx, used = await _pool(state, user.id, degraded, scope)

    def old_favourites() -> list[int]:
        with state.sessions() as session:
            return rediscover_candidates(session, user.id, QUIET_DAYS, 4 * n)

    favourites = await run_in_threadpool(old_favourites)
    fused = await recommending.for_user(ctx, MODES["hybrid"], POOL)
    _, _, known = await run_in_threadpool(recommending.lookup_keys, state, (), (), favourites)
    ctx.songs.update(known)
    day = mixes.today()
    factor = recommending.taste_factor(ctx) or (lambda _: 1.0)
    favourites = [s for s in favourites if s in known and ctx.allowed(s) and factor(s) > 0]
    old = mixes.draw(favourites, n // 2, mixes.day_seed(user.id, "rediscover", day), half_rank=10.0)
    new = mixes.daily(
        [f.song_id for f in fused],
        n - len(old),
        user.id,
        day,
        kind="rediscover",
        artist_of={k: v.artist for k, v in ctx.songs.items()},
    )
    items: dict[int, Fused] = {f.song_id: f for f in fused if f.song_id in set(new)}
    for s in old:
        items[s] = Fused(s, 0.0, {"history": 1}, [Why("history", "a favourite you have not played lately")])
    order = mixes.flow(_interleave(old, new, mixes.day_seed(user.id, "rediscover-mix", day)), await _vectors(ctx))
    return await _answer("rediscover", day, used, [items[s] for s in order], ctx)


async def _answer(
    kind: Literal["daily", "rediscover"],
    day: dt.date,
    used: Literal["all", "library"],
    chosen: list[Fused],
    ctx: recommending.Context,
) -> MixOut:
    return MixOut(
        kind=kind,
        day=day.isoformat(),
        scope=used,
        items=rec_items(chosen, await with_named(ctx.state, chosen, ctx.songs)),
        degraded=sorted(ctx.degraded),
        left_out=ctx.left_out,
        refilled=ctx.refilled,
    )


def _interleave(a: list[int], b: list[int], seed: int) -> list[int]:
    out = a + b
    random.Random(seed).shuffle(out)
    return out


async def _vectors(ctx: recommending.Context) -> dict[int, np.ndarray]:
    """Where each song with audio sits on the catalog map (its sound, in two dimensions), by song id."""
    points = await recommending.map_points(ctx.state, ctx.degraded)
    by_audio = {s.audio_id: s.id for s in ctx.songs.values() if s.audio_id}
    return {by_audio[p.song_id]: np.array([p.x, p.y]) for p in points if p.song_id in by_audio}
