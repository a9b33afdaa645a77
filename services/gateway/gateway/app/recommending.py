"""How a list of recommendations is made: the sources, their candidates, the fusion.

A request names a mode (:mod:`gateway.core.modes`); the mode names its sources; each source turns
what cf_service, audio_service, Redis or the database know into ranked :class:`Candidate` lists
(database songs, with a reason); :func:`gateway.core.fusion.fuse` merges them. Every source is
best-effort: one that is down adds its component to ``degraded`` and gives no candidates, it never
raises. Raw ids (MSD ids, audio ids) are turned into database songs here, at the boundary.

Sources (:data:`SOURCES`):

- ``cf`` - a listener's cf list: the precomputed list in Redis for an imported listener with no app
  activity since, else cf_service's list (known listener) or fold-in (anyone else);
- ``audio`` - songs that sound like the listener's recent plays with a recording;
- ``popular`` - the all-time charts from the database;
- ``cf-similar`` / ``audio-similar`` - songs co-listened with / sounding like a seed song.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from musicrec_common import keys
from musicrec_common.schemas import FoldInRequest, HistoryItem, MapPoint, RecommendedSong, SimilarSong
from pydantic import TypeAdapter, ValidationError

from gateway.app.downstream import ServiceDown, ServiceRejected
from gateway.app.schemas import Basis
from gateway.app.state import AppState
from gateway.core.fusion import Candidate, Fused, Why, fuse, named_first_on_ties
from gateway.core.modes import MODES, Mode
from gateway.core.taste import Taste
from gateway.db.catalog import chart
from gateway.db.export import cf_song_key
from gateway.db.models import Song
from gateway.db.recs import Profile, songs_by_cf_keys, songs_by_keys

CF_DEPTH = 100  # candidates asked of cf_service; matches the precomputed top-100
AUDIO_DEPTH = 30  # neighbours per audio seed
LIBRARY_AUDIO_DEPTH = 300  # per seed in the library scope: the index also holds the catalog, filtered out after
FOLD_IN_MAX = 5000  # history entries sent to cf_service (its request limit)
PLAY_COUNT_MAX = 1_000_000  # the contract's bound on one play count

T = TypeVar("T")
_RECS = TypeAdapter(list[RecommendedSong])
_SIMILAR = TypeAdapter(list[SimilarSong])


@dataclass
class Context:
    """One request's inputs and what its sources found.

    Attributes:
        profile: the listener (lists for a user), or None.
        seed: the seed song (lists for a song), or None.
        depth: how many candidates a seed source asks for.
        songs: database songs of every candidate (and of the songs reasons name), by id.
        fallback: ``popular`` when the listener's list is not personalised.
        within: the ``library`` scope's songs (gateway ids); None for every song.
        within_cf: the same songs' ids in the cf model (sent to cf_service so that it ranks only them).
        taste: the listener's signals and exclusion rules (:func:`with_taste`), applied to every list.
        left_out_ids: songs the listener's rules or signals kept out of the list (the answer counts them).
        refilled: songs the charts added because the list ran short after that.
    """

    state: AppState
    degraded: set[str]
    profile: Profile | None = None
    seed: Song | None = None
    depth: int = CF_DEPTH
    songs: dict[int, Song] = field(default_factory=dict)
    fallback: str | None = None
    within: frozenset[int] | None = None
    within_cf: tuple[str, ...] | None = None
    taste: Taste | None = None
    left_out_ids: set[int] = field(default_factory=set)
    refilled: int = 0
    cf_depth: int = CF_DEPTH

    @property
    def left_out(self) -> int:
        return len(self.left_out_ids)

    @property
    def audio_depth(self) -> int:
        return AUDIO_DEPTH if self.within is None else LIBRARY_AUDIO_DEPTH

    def allowed(self, song_id: int) -> bool:
        return self.within is None or song_id in self.within


Fetch = Callable[[Context], Awaitable[list[Candidate]]]


@dataclass(frozen=True)
class Source:
    """A way to get candidates. ``label`` is the key in the fused items' ``sources`` and in the weights."""

    name: str
    label: str
    fetch: Fetch


# --- helpers ---------------------------------------------------------------------------------


def title_of(song: Song | None) -> str:
    if song is None:
        return "a song you played"
    return f"{song.title} by {song.artist}" if song.title and song.artist else (song.title or "a song you played")


def is_named(song: Song | None) -> bool:
    return song is not None and bool(song.title) and bool(song.artist)


def lookup_cf(state: AppState, cf_keys: Sequence[str]) -> dict[str, Song]:
    with state.sessions() as session:
        return songs_by_cf_keys(session, cf_keys)


def lookup_keys(
    state: AppState, msd_ids: Iterable[str], audio_ids: Iterable[str], ids: Iterable[int]
) -> tuple[dict[str, Song], dict[str, Song], dict[int, Song]]:
    """Songs by MSD id, by audio id and by gateway id (:func:`gateway.db.recs.songs_by_keys`), in one session."""
    with state.sessions() as session:
        return songs_by_keys(session, msd_ids, audio_ids, ids)


def lookup_audio(state: AppState, audio_ids: Sequence[str]) -> dict[str, Song]:
    with state.sessions() as session:
        return songs_by_keys(session, (), audio_ids)[1]


async def cached_list(
    state: AppState, key: str, kind: str, adapter: TypeAdapter[list[T]], degraded: set[str]
) -> list[T] | None:
    """A JSON list cf_service published to Redis, parsed to its contract's models (None: missing or unreadable)."""
    raw = await state.cache.get_json(key, kind, degraded)
    if raw is None:
        return None
    try:
        return list(adapter.validate_python(raw))
    except ValidationError:
        return None  # not what the contract says: ask the service instead


# --- user sources ----------------------------------------------------------------------------


async def cf_items(
    state: AppState,
    profile: Profile,
    degraded: set[str],
    within: tuple[str, ...] | None = None,
    depth: int = CF_DEPTH,
) -> tuple[list[RecommendedSong], bool]:
    """The listener's cf list (MSD ids, with ``because``) and whether it is a popularity fallback.

    ``within`` (cf keys): only those songs; the precomputed lists rank every song, so fold-in is used.
    ``depth``: how many songs; deeper than the precomputed lists (:data:`CF_DEPTH`), cf_service is asked.
    """
    if within is not None and not within:
        return [], False  # the library has no song the cf model could know
    if profile.msd_user_id and not profile.app_activity and within is None:
        # The listener is in the training data and did nothing since: the precomputed list holds.
        version = await state.cache.get_str(keys.CF_VERSION, degraded) if depth <= CF_DEPTH else None
        key = keys.cf_recs(version, profile.msd_user_id) if version else None
        if key:
            items = await cached_list(state, key, "cf_recs", _RECS, degraded)
            if items is not None:
                return items[:depth], False
        try:
            # Not precomputed (outside the active window, or not published yet): scored now, the whole list.
            body = await state.cf.recommendations(profile.msd_user_id, CF_DEPTH if key else depth)
        except (ServiceDown, ServiceRejected):
            degraded.add("cf")
            return [], False
        if key and body.model_version == version and body.fallback is None:
            # Kept under the precomputed list's key, so the next request reads it as if it had been published.
            dumped = [i.model_dump(mode="json") for i in body.items]
            await state.cache.set_json(key, dumped, state.settings.cf_on_demand_ttl_s, degraded)
        return body.items[:depth], body.fallback == "popular"
    request = FoldInRequest(
        history=[
            HistoryItem(song_id=s, play_count=min(PLAY_COUNT_MAX, max(1, round(w))))
            for s, w in profile.history[:FOLD_IN_MAX]
        ],
        n=depth,
        within=list(within) if within is not None else None,
    )
    try:
        body = await state.cf.fold_in(request)
    except (ServiceDown, ServiceRejected):
        degraded.add("cf")
        return [], False
    return body.items, body.fallback == "popular"


def cf_candidates(items: list[RecommendedSong], by_msd: dict[str, Song], fallback: bool) -> list[Candidate]:
    out = []
    # Equal scores (the popularity fallback has long ties): named songs first, any other order kept.
    items = named_first_on_ties(items, lambda i: i.score, lambda i: is_named(by_msd.get(i.song_id)))
    for rank, item in enumerate(items, start=1):
        song = by_msd.get(item.song_id)
        if song is None:
            continue
        about = None
        if fallback:
            reason = "popular with listeners"
        elif item.because and by_msd.get(item.because[0].song_id):
            named = by_msd[item.because[0].song_id]
            reason, about = f"because you played {title_of(named)}", named.id
        else:
            reason = "popular with listeners like you"
        out.append(Candidate(song.id, rank, item.score, reason, about))
    return out


async def cf_user(ctx: Context) -> list[Candidate]:
    assert ctx.profile is not None
    items, fallback = await cf_items(ctx.state, ctx.profile, ctx.degraded, ctx.within_cf, ctx.cf_depth)
    wanted = [i.song_id for i in items] + [b.song_id for i in items for b in i.because]
    by_msd = await run_in_threadpool(lookup_cf, ctx.state, wanted)
    ctx.songs.update({s.id: s for s in by_msd.values()})
    if fallback:
        ctx.fallback = "popular"
    return cf_candidates(items, by_msd, fallback)


async def audio_similar(state: AppState, audio_id: str, n: int, degraded: set[str]) -> list[SimilarSong]:
    """Songs that sound like ``audio_id`` (audio ids and cosine scores), cache-aside."""
    key = keys.audio_similar(audio_id, n)
    cached = await cached_list(state, key, "audio_similar", _SIMILAR, degraded)
    if cached is not None:
        return cached
    try:
        body = await state.audio.similar(audio_id, n)
    except ServiceRejected:
        return []  # the song is not in the index (yet)
    except ServiceDown:
        degraded.add("audio")
        return []
    await state.cache.set_json(
        key, [i.model_dump(mode="json") for i in body.items], state.settings.recs_cache_ttl_s, degraded
    )
    return body.items


def audio_candidates(
    lists: list[tuple[str, list[SimilarSong]]], by_audio: dict[str, Song], seeds: list[int | None] | None = None
) -> list[Candidate]:
    """Several seeds' neighbour lists, merged by best rank; the reason names the seed (``seeds``: their song ids)."""
    best: dict[int, Candidate] = {}
    for n, (seed_title, items) in enumerate(lists):
        about = seeds[n] if seeds is not None else None
        for rank, item in enumerate(items, start=1):
            song = by_audio.get(item.song_id)
            if song is None:
                continue
            if song.id not in best or rank < best[song.id].rank:
                best[song.id] = Candidate(song.id, rank, item.score, f"sounds like {seed_title}", about)
    return sorted(best.values(), key=lambda c: (c.rank, -c.score))


async def audio_user(ctx: Context) -> list[Candidate]:
    assert ctx.profile is not None
    seeds = ctx.profile.audio_seeds
    depth = ctx.audio_depth
    lists = await asyncio.gather(*(audio_similar(ctx.state, a, depth, ctx.degraded) for _, a, _ in seeds))
    by_audio = await run_in_threadpool(lookup_audio, ctx.state, [i.song_id for lst in lists for i in lst])
    ctx.songs.update({s.id: s for s in by_audio.values()})
    pairs = [(t, lst) for (_, _, t), lst in zip(seeds, lists, strict=True)]
    return audio_candidates(pairs, by_audio, [song_id for song_id, _, _ in seeds])


async def popular(ctx: Context) -> list[Candidate]:
    """The all-time charts (the database's plays), without the listener's own songs."""
    exclude = ctx.profile.seen if ctx.profile is not None else set()
    if ctx.seed is not None:
        exclude = exclude | {ctx.seed.id}
    n = ctx.depth

    def work() -> list[tuple[Song, int]]:
        with ctx.state.sessions() as session:
            return chart(session, since=None, n=n + len(exclude), library_only=ctx.within is not None)

    rows = [(song, plays) for song, plays in await run_in_threadpool(work) if song.id not in exclude][:n]
    ctx.songs.update({song.id: song for song, _ in rows})
    return [Candidate(song.id, r, 0.0, "popular with listeners") for r, (song, _) in enumerate(rows, start=1)]


# --- seed-song sources -----------------------------------------------------------------------


async def cf_similar_items(
    state: AppState, msd_song_id: str, n: int, degraded: set[str], within: tuple[str, ...] | None = None
) -> list[SimilarSong]:
    if within is not None:  # only the library's songs: cf_service ranks them (the published lists rank all)
        if not within:
            return []
        try:
            body = await state.cf.similar_within(msd_song_id, n, list(within))
        except (ServiceDown, ServiceRejected):
            degraded.add("cf")
            return []
        return [] if body.fallback else body.items
    version = await state.cache.get_str(keys.CF_VERSION, degraded)
    if version:
        items = await cached_list(state, keys.cf_similar(version, msd_song_id), "cf_similar", _SIMILAR, degraded)
        if items is not None:
            return items[:n]
    try:
        body = await state.cf.similar(msd_song_id, n)
    except (ServiceDown, ServiceRejected):
        degraded.add("cf")
        return []
    if body.fallback:
        return []  # an unknown song has no co-listening neighbours
    return body.items


async def cf_similar(ctx: Context) -> list[Candidate]:
    seed = ctx.seed
    assert seed is not None
    key = cf_song_key(seed.id, seed.msd_song_id)
    items = await cf_similar_items(ctx.state, key, ctx.depth, ctx.degraded, ctx.within_cf)
    if not items:
        return []
    by_msd = await run_in_threadpool(lookup_cf, ctx.state, [i.song_id for i in items])
    ctx.songs.update({s.id: s for s in by_msd.values()})
    why = f"often played with {title_of(seed)}"
    return [
        Candidate(by_msd[i.song_id].id, r, i.score, why, seed.id)
        for r, i in enumerate(items, start=1)
        if i.song_id in by_msd
    ]


async def audio_similar_to_seed(ctx: Context) -> list[Candidate]:
    seed = ctx.seed
    assert seed is not None
    if not seed.audio_id:
        return []
    items = await audio_similar(ctx.state, seed.audio_id, max(ctx.depth, ctx.audio_depth), ctx.degraded)
    if not items:
        return []
    by_audio = await run_in_threadpool(lookup_audio, ctx.state, [i.song_id for i in items])
    ctx.songs.update({s.id: s for s in by_audio.values()})
    why = f"sounds like {title_of(seed)}"
    return [
        Candidate(by_audio[i.song_id].id, r, i.score, why, seed.id)
        for r, i in enumerate(items, start=1)
        if i.song_id in by_audio
    ]


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("cf", "cf", cf_user),
        Source("audio", "audio", audio_user),
        Source("popular", "popular", popular),
        Source("cf-similar", "cf", cf_similar),
        Source("audio-similar", "audio", audio_similar_to_seed),
    )
}


_POINTS = TypeAdapter(list[MapPoint])


async def map_points(state: AppState, degraded: set[str]) -> list[MapPoint]:
    """audio_service's catalog map (every indexed song's 2-D position), cache-aside; empty with ``audio``
    degraded when audio_service cannot answer."""
    raw = await state.cache.get_json(keys.MAP, "map", degraded)
    try:
        points = _POINTS.validate_python(raw) if raw is not None else None
    except ValidationError:
        points = None
    if points is None:
        try:
            points = (await state.audio.map()).points
        except (ServiceDown, ServiceRejected):
            degraded.add("audio")
            return []
        dumped = [p.model_dump(mode="json") for p in points]
        await state.cache.set_json(keys.MAP, dumped, state.settings.recs_cache_ttl_s, degraded)
    return list(points)


# --- the flow ----------------------------------------------------------------------------------


def weights_for(state: AppState, mode: Mode) -> dict[str, float]:
    """Fusion weight of every label: the mode's own, else the settings', else 1."""
    base = {"cf": state.settings.hybrid_cf_weight, "audio": state.settings.hybrid_audio_weight}
    labels = {SOURCES[name].label for name in (*mode.user, *mode.song)} | set(base)
    return {label: float(mode.weights.get(label, base.get(label, 1.0))) for label in labels}


async def candidates(ctx: Context, names: Sequence[str]) -> dict[str, list[Candidate]]:
    """Every named source's candidates, fetched concurrently, by label (empty lists left out)."""
    results = await asyncio.gather(*(SOURCES[name].fetch(ctx) for name in names))
    lists: dict[str, list[Candidate]] = {}
    for name, found in zip(names, results, strict=True):
        if found:
            lists.setdefault(SOURCES[name].label, []).extend(found)
    return lists


async def for_user(ctx: Context, mode: Mode, n: int) -> list[Fused]:
    """A listener's fused list for ``mode``, without the songs they already know."""
    assert ctx.profile is not None
    lists = await candidates(ctx, mode.user)
    if "cf" in mode.user and "cf" in ctx.degraded and not any(lst for label, lst in lists.items() if label != "cf"):
        # cf_service is down and nothing else gives songs: the charts keep the page useful.
        ctx.depth = n
        lists["cf"] = await popular(ctx)
        ctx.fallback = "popular"
    fused = _fuse(ctx, lists, mode, n, exclude=ctx.profile.seen)
    return await refill(ctx, fused, n, ctx.profile.seen)


async def for_song(
    ctx: Context,
    mode: Mode,
    n: int,
    *,
    max_per_artist: int = 2,
    artist_window: int = 10,
    exclude: frozenset[int] = frozenset(),
) -> list[Fused]:
    """A seed song's fused "more like this" list for ``mode``, without the seed and ``exclude``."""
    assert ctx.seed is not None
    lists = await candidates(ctx, mode.song)
    left_out = {ctx.seed.id, *exclude}
    fused = _fuse(ctx, lists, mode, n, exclude=left_out, max_per_artist=max_per_artist, artist_window=artist_window)
    return await refill(ctx, fused, n, left_out)


def taste_factor(ctx: Context) -> Callable[[int], float] | None:
    """The listener's signals and rules as a score factor for :func:`fuse`, counting what it leaves out."""
    taste = ctx.taste
    if taste is None or not taste.active:
        return None

    def factor(song_id: int) -> float:
        f = taste.factor(ctx.songs.get(song_id))
        if f <= 0:
            ctx.left_out_ids.add(song_id)
        return f

    return factor


def _fuse(
    ctx: Context,
    lists: dict[str, list[Candidate]],
    mode: Mode,
    n: int,
    *,
    exclude: set[int],
    max_per_artist: int = 2,
    artist_window: int = 10,
) -> list[Fused]:
    songs = ctx.songs
    if ctx.within is not None:  # the library scope: nothing the music folder cannot play
        lists = {label: [c for c in found if ctx.allowed(c.song_id)] for label, found in lists.items()}
    return fuse(
        lists,
        weights_for(ctx.state, mode),
        n=n,
        exclude=exclude,
        artist_of={k: v.artist for k, v in songs.items()},
        max_per_artist=max_per_artist,
        artist_window=artist_window,
        named={sid for sid, song in songs.items() if is_named(song)},
        factor=taste_factor(ctx),
    )


async def refill(ctx: Context, fused: list[Fused], n: int, exclude: set[int]) -> list[Fused]:
    """A list the listener's rules and signals left short, filled up from the charts (never with holes)."""
    if len(fused) >= n or not ctx.left_out:
        return fused
    have = {f.song_id for f in fused} | exclude
    ctx.depth = 4 * n + len(have)
    factor = taste_factor(ctx) or (lambda _: 1.0)
    out = list(fused)
    for cand in await popular(ctx):
        if len(out) >= n:
            break
        if cand.song_id in have or not ctx.allowed(cand.song_id) or factor(cand.song_id) <= 0:
            continue
        have.add(cand.song_id)
        out.append(Fused(cand.song_id, 0.0, {"popular": cand.rank}, [Why("popular", "popular with listeners")]))
        ctx.refilled += 1
    return out


NEIGHBOURS_PER_SIGNAL = 10
SIGNAL_SONGS = 8  # the most recent negative signals whose neighbours are looked up


async def with_taste(ctx: Context) -> None:
    """Set ``ctx.taste`` from the profile's signals and rules, with the neighbours of its recent negative songs
    (sound and co-listening: one cached call each)."""
    profile = ctx.profile
    if profile is None or not (profile.signals or profile.rules):
        return
    taste = Taste(list(profile.signals), profile.rules)
    wanted = taste.negative_songs(SIGNAL_SONGS)
    if wanted:
        _, _, seeds = await run_in_threadpool(lookup_keys, ctx.state, (), (), wanted)
        neighbours: dict[int, set[int]] = {}

        async def around(song: Song) -> None:
            audio_items, cf_items_ = await asyncio.gather(
                audio_similar(ctx.state, song.audio_id, NEIGHBOURS_PER_SIGNAL, ctx.degraded)
                if song.audio_id
                else _nothing(),
                cf_similar_items(
                    ctx.state, cf_song_key(song.id, song.msd_song_id), NEIGHBOURS_PER_SIGNAL, ctx.degraded
                ),
            )
            by_audio = await run_in_threadpool(lookup_audio, ctx.state, [i.song_id for i in audio_items])
            by_cf = await run_in_threadpool(lookup_cf, ctx.state, [i.song_id for i in cf_items_])
            near = {s.id for s in by_audio.values()} | {s.id for s in by_cf.values()}
            neighbours[song.id] = near
            ctx.songs.update({s.id: s for s in (*by_audio.values(), *by_cf.values())})

        await asyncio.gather(*(around(song) for song in seeds.values()))
        taste.neighbours = neighbours
        taste.prepare()
    ctx.taste = taste


async def _nothing() -> list[SimilarSong]:
    return []


def basis(sources: dict[str, int]) -> Basis:
    """What put a fused song in the list, for people: listeners, sound, both, or the charts."""
    cf, audio = "cf" in sources, "audio" in sources
    if cf and audio:
        return "both"
    if cf:
        return "listeners"
    if audio:
        return "sound"
    if "tags" in sources:
        return "tags"
    if "history" in sources:
        return "history"
    return "popular"


def mode_named(name: str) -> Mode | None:
    return MODES.get(name)
