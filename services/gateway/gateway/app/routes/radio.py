"""Radio from a prompt (tags, genres, artists), the page's tag chips, and a path from one song to another."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorResponse, SonicPathRequest
from musicrec_common.web import ApiError

from gateway.app import recommending
from gateway.app.deps import MaybeUser, State
from gateway.app.downstream import ServiceDown, ServiceRejected
from gateway.app.routes.recommend import (
    ScopeParam,
    load_listener,
    played_lately,
    rec_items,
    scoped,
    seed_song,
    with_named,
)
from gateway.app.schemas import PathOut, PromptRadioOut, SongOut, TagCount, TagsOut
from gateway.app.state import AppState
from gateway.core import mixes
from gateway.core.fusion import Candidate, fuse
from gateway.core.prompt import PromptError, parse
from gateway.core.taste import Rules
from gateway.db.export import cf_song_key
from gateway.db.models import Song
from gateway.db.tags import songs_for_prompt, top_tags

router = APIRouter(tags=["recommendations"], responses={422: {"model": ErrorResponse}})

RADIO_LENGTH = 25
POOL = 150
SOUND_SEEDS = 5  # tagged songs whose sound-alikes extend the radio to songs without tags
SOUND_DEPTH = 30
WEIGHTS = {"tags": 1.0, "audio": 0.7}
PromptParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=500,
        description='Tags, genres and artists: `tag:jazz tag:mellow artist:"Norah Jones" -tag:live` (a word '
        "alone is a tag; quotes for spaces; `-` keeps songs out)",
    ),
]


@router.get("/api/radio", response_model=PromptRadioOut)
async def prompt_radio(
    state: State,
    user: MaybeUser,
    q: PromptParam,
    n: Annotated[int, Query(ge=1, le=100)] = RADIO_LENGTH,
    scope: ScopeParam = None,
) -> PromptRadioOut:
    """A radio of the songs a prompt names (their Last.fm tags, tagtraum genres, artists), extended through the
    sound model to songs that sound like them but carry no tags; drawn anew every day, at most 2 per artist."""
    try:
        prompt = parse(q)
    except PromptError as exc:
        raise ApiError(422, str(exc), code="validation_error", details=[{"field": "q", "message": str(exc)}]) from None
    degraded: set[str] = set()
    ctx = recommending.Context(state, degraded)
    used = await scoped(state, ctx, scope)
    exclude: set[int] = set()
    held_back: set[int] = set()
    if user is not None:
        ctx.profile = await run_in_threadpool(load_listener, state, user.id)
        await recommending.with_taste(ctx)
        exclude = ctx.profile.disliked
        held_back = await run_in_threadpool(played_lately, state, user.id)

    def read() -> list[tuple[Song, int, int]]:
        with state.sessions() as session:
            return songs_for_prompt(session, prompt)

    tagged = [row for row in await run_in_threadpool(read) if ctx.allowed(row[0].id)]
    ctx.songs.update({song.id: song for song, _, _ in tagged})
    tag_list = [
        Candidate(song.id, rank, float(hits), _reason(prompt.canonical(), hits))
        for rank, (song, hits, _) in enumerate(tagged, start=1)
    ]
    seeds = [song for song, _, _ in tagged if song.audio_id][:SOUND_SEEDS]
    lists = await asyncio.gather(
        *(recommending.audio_similar(state, s.audio_id or "", SOUND_DEPTH, degraded) for s in seeds)
    )
    by_audio = await run_in_threadpool(recommending.lookup_audio, state, [i.song_id for lst in lists for i in lst])
    ctx.songs.update({s.id: s for s in by_audio.values()})
    sound = recommending.audio_candidates(
        [(recommending.title_of(s), lst) for s, lst in zip(seeds, lists, strict=True)],
        by_audio,
        [s.id for s in seeds],
    )
    without: Rules = prompt.without
    sound = [c for c in sound if ctx.allowed(c.song_id) and not without.excludes(ctx.songs[c.song_id])]
    base = recommending.taste_factor(ctx)
    pool = fuse(
        {"tags": tag_list, "audio": sound},
        WEIGHTS,
        n=POOL,
        exclude=exclude,
        artist_of={k: v.artist for k, v in ctx.songs.items()},
        factor=base,
    )
    drawn = mixes.daily(
        [f.song_id for f in pool],
        n,
        user.id if user is not None else "anonymous",
        mixes.today(),
        kind=f"prompt:{prompt.canonical()}",
        artist_of={k: v.artist for k, v in ctx.songs.items()},
        held_back=held_back,
    )
    by_id = {f.song_id: f for f in pool}
    chosen = [by_id[s] for s in drawn]
    return PromptRadioOut(
        prompt=prompt.canonical(),
        scope=used,
        matched=len(tagged),
        items=rec_items(chosen, await with_named(state, chosen, ctx.songs)),
        degraded=sorted(degraded),
        left_out=ctx.left_out,
    )


def _reason(prompt: str, hits: int) -> str:
    return f"matches {hits} of your radio's terms" if hits > 1 else "matches your radio's prompt"


_TAGS: dict[int, tuple[float, list[TagCount]]] = {}
TAGS_TTL_S = 300.0


@router.get("/api/tags", response_model=TagsOut)
async def tags(state: State, n: Annotated[int, Query(ge=1, le=200)] = 30) -> TagsOut:
    """The tags most songs carry (Last.fm tags, the catalog's collections and instruments), for prompt chips."""
    cached = _TAGS.get(n)
    if cached is not None and time.monotonic() - cached[0] < TAGS_TTL_S:
        return TagsOut(tags=cached[1])

    def read() -> list[tuple[str, int]]:
        with state.sessions() as session:
            return top_tags(session, n)

    found = [TagCount(name=name, songs=count) for name, count in await run_in_threadpool(read)]
    _TAGS[n] = (time.monotonic(), found)
    return TagsOut(tags=found)


@router.get("/api/songs/{song_id}/path/{end_id}", response_model=PathOut, responses={404: {"model": ErrorResponse}})
async def song_path(
    state: State, song_id: int, end_id: int, user: MaybeUser, n: Annotated[int, Query(ge=2, le=50)] = 10
) -> PathOut:
    """Songs that move from one song to another in small steps, no song twice: through the sound embedding when
    both have audio, else through co-listening. Your disliked songs are never stepped on."""
    start, end = await seed_song(state, song_id), await seed_song(state, end_id)
    if start.id == end.id:
        raise ApiError(422, "a path needs two different songs", code="validation_error")
    degraded: set[str] = set()
    disliked: set[int] = set()
    if user is not None:
        disliked = (await run_in_threadpool(load_listener, state, user.id)).disliked - {start.id, end.id}
    if start.audio_id and end.audio_id:
        steps = await _sound_path(state, start, end, n + len(disliked), degraded)
        if steps is not None:
            kept = [s for s in steps if s.id not in disliked]
            return PathOut(basis="sound", items=[SongOut.of(s) for s in _cap(kept, n)], degraded=sorted(degraded))
    steps = await _listening_path(state, start, end, n, disliked, degraded)
    return PathOut(
        basis="listeners" if len(steps) > 2 else "none", items=[SongOut.of(s) for s in steps], degraded=sorted(degraded)
    )


def _cap(steps: list[Song], n: int) -> list[Song]:
    """At most ``n`` songs, both ends kept."""
    return steps if len(steps) <= n else [*steps[: n - 1], steps[-1]]


async def _sound_path(state: AppState, start: Song, end: Song, n: int, degraded: set[str]) -> list[Song] | None:
    request = SonicPathRequest(start=start.audio_id or "", end=end.audio_id or "", n=min(n, 100))
    try:
        answer = await state.audio.path(request)
    except ServiceRejected:
        return None  # a song not in the index (yet): co-listening instead
    except ServiceDown:
        degraded.add("audio")
        return None
    by_audio = await run_in_threadpool(recommending.lookup_audio, state, [i.song_id for i in answer.items])
    steps = [by_audio[i.song_id] for i in answer.items if i.song_id in by_audio]
    return steps if len(steps) >= 2 else None


async def _listening_path(
    state: AppState, start: Song, end: Song, n: int, avoid: set[int], degraded: set[str]
) -> list[Song]:
    """Walk from both ends through co-listening neighbours (each step the nearest unused neighbour, preferring
    songs the other end's neighbourhood holds) and join the two walks in the middle."""

    async def near(song: Song) -> list[Song]:
        items = await recommending.cf_similar_items(state, cf_song_key(song.id, song.msd_song_id), 50, degraded)
        by_key = await run_in_threadpool(recommending.lookup_cf, state, [i.song_id for i in items])
        return [by_key[i.song_id] for i in items if i.song_id in by_key]

    around_start, around_end = await asyncio.gather(near(start), near(end))
    ids_start, ids_end = {s.id for s in around_start}, {s.id for s in around_end}
    used = {start.id, end.id, *avoid}
    forward: list[Song] = []
    backward: list[Song] = []
    lists = {start.id: around_start, end.id: around_end}
    for step in range(n - 2):
        go_forward = step % 2 == 0
        walk = forward if go_forward else backward
        current = walk[-1] if walk else (start if go_forward else end)
        if current.id not in lists:
            lists[current.id] = await near(current)
        towards = ids_end if go_forward else ids_start
        options = [s for s in lists[current.id] if s.id not in used]
        if not options:
            break
        # The nearest neighbour, unless one of the first few is also near the other end: the bridge.
        pick = next((s for s in options[:10] if s.id in towards), options[0])
        used.add(pick.id)
        walk.append(pick)
    return [start, *forward, *reversed(backward), end]
