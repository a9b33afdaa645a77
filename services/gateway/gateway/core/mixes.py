"""Fresh mixes: rank-weighted sampling seeded by the listener and the day, and a flowing order.

A fixed list gives the same songs every day; a mix draws from the fused candidates instead. Song ``r`` of the
ranked pool (0-based) weighs ``(1 + r / HALF_RANK) ** -ALPHA``: the top of the list is drawn most days, the
depths now and then. The draw (Gumbel top-k: without replacement, exactly proportional to the weights) is seeded
by :func:`day_seed` (the listener, the kind of mix and the day), so a mix is the same all day and new the next;
yesterday's draw weighs :data:`YESTERDAY` of its weight, so consecutive days share few songs. The drawn songs
keep the pool's order (the best first), at most ``max_per_artist`` per artist.

Pure: the gateway hands in ranked song ids and artists (:mod:`gateway.app.mixes`), the benchmark
(``bench/bench_mixes.py``) the vote's lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence

import numpy as np

# The head (the first HEAD songs, what a listener hears first) is drawn steeply from the top of the pool; the
# rest broadly from what is left, away from yesterday's. Tuned with bench/bench_mixes.py (RESULTS.md).
HEAD = 10
HEAD_ALPHA, HEAD_HALF_RANK, HEAD_YESTERDAY = 8.0, 1.0, 1.0
ALPHA, HALF_RANK, YESTERDAY = 1.0, 30.0, 0.1


def day_seed(*parts: object) -> int:
    """A 64-bit seed from the listener, the kind of mix and the day (stable across processes and restarts)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def today(now: dt.datetime | None = None) -> dt.date:
    """The mix day (UTC)."""
    return (now or dt.datetime.now(dt.UTC)).date()


def rank_weights(n: int, alpha: float = ALPHA, half_rank: float = HALF_RANK) -> np.ndarray:
    """``(n,)`` weights of ranks ``0..n-1``: ``(1 + r / half_rank) ** -alpha``."""
    return (1.0 + np.arange(n, dtype=np.float64) / half_rank) ** -alpha


def draw(
    ranked: Sequence[int],
    n: int,
    seed: int,
    *,
    artist_of: Mapping[int, str | None] | None = None,
    max_per_artist: int = 2,
    held_back: Collection[int] = (),
    avoid: Collection[int] = (),
    avoid_factor: float = YESTERDAY,
    alpha: float = ALPHA,
    half_rank: float = HALF_RANK,
    per_artist: dict[str, int] | None = None,
) -> list[int]:
    """Up to ``n`` songs of ``ranked`` (best first) drawn by rank weight, returned in ``ranked``'s order.

    Args:
        seed: :func:`day_seed` of the listener, the mix and the day.
        held_back: never drawn (songs played lately).
        avoid: drawn at ``avoid_factor`` of their weight (yesterday's mix).
        artist_of: song -> artist; at most ``max_per_artist`` songs of one artist are drawn (``per_artist``: the
            counts so far, updated).
    """
    if not ranked or n <= 0:
        return []
    ids = np.asarray(ranked, dtype=np.int64)
    logw = np.log(rank_weights(len(ids), alpha, half_rank))
    if avoid:
        logw = logw + np.log(avoid_factor) * np.isin(ids, np.fromiter(avoid, np.int64, len(avoid)))
    rng = np.random.default_rng(seed)
    keys = logw + rng.gumbel(size=len(ids))
    blocked = set(held_back)
    per_artist = {} if per_artist is None else per_artist
    chosen: list[int] = []
    for pos in np.argsort(-keys, kind="stable"):
        sid = int(ids[pos])
        if sid in blocked:
            continue
        artist = " ".join((artist_of.get(sid) or "").casefold().split()) if artist_of is not None else ""
        if artist and per_artist.get(artist, 0) >= max_per_artist:
            continue
        if artist:
            per_artist[artist] = per_artist.get(artist, 0) + 1
        chosen.append(int(pos))
        blocked.add(sid)
        if len(chosen) >= n:
            break
    return [int(ids[p]) for p in sorted(chosen)]


def daily(
    ranked: Sequence[int],
    n: int,
    user: object,
    day: dt.date,
    *,
    kind: str = "daily",
    artist_of: Mapping[int, str | None] | None = None,
    max_per_artist: int = 2,
    held_back: Collection[int] = (),
) -> list[int]:
    """The mix of ``day``: its head (:data:`HEAD` songs) drawn steeply from the top of ``ranked``, the rest broadly
    from what is left, both seeded by (user, kind, day) and away from what the same draw gave the day before."""

    def one(when: dt.date, avoid_head: Collection[int], avoid_tail: Collection[int]) -> tuple[list[int], list[int]]:
        seed = day_seed(user, kind, when)
        counts: dict[str, int] = {}
        common = {"artist_of": artist_of, "max_per_artist": max_per_artist, "per_artist": counts}
        head = draw(
            ranked,
            min(HEAD, n),
            seed,
            held_back=held_back,
            avoid=avoid_head,
            avoid_factor=HEAD_YESTERDAY,
            alpha=HEAD_ALPHA,
            half_rank=HEAD_HALF_RANK,
            **common,  # type: ignore[arg-type]
        )
        tail = draw(
            ranked,
            n - len(head),
            seed + 1,
            held_back={*held_back, *head},
            avoid=avoid_tail,
            **common,  # type: ignore[arg-type]
        )
        return head, tail

    head_before, tail_before = one(day - dt.timedelta(days=1), (), ())
    head, tail = one(day, head_before, {*head_before, *tail_before})
    return head + tail


def flow(song_ids: Sequence[int], vectors: Mapping[int, np.ndarray], start: int | None = None) -> list[int]:
    """``song_ids`` in a flowing order: each next song the nearest (Euclidean) to the one before among those left.

    Songs without a vector keep their order among themselves and are spread evenly between the others (no sound
    to follow). ``vectors``: song id -> ``(d,)`` position (a sound embedding, or the catalog map's 2-D point).
    """
    with_vec = [s for s in song_ids if s in vectors]
    without = [s for s in song_ids if s not in vectors]
    if len(with_vec) <= 2:
        return list(song_ids)
    mat = np.stack([np.asarray(vectors[s], np.float64) for s in with_vec])
    left = list(range(len(with_vec)))
    current = with_vec.index(start) if start in with_vec else 0
    order = [current]
    left.remove(current)
    while left:
        dist = np.linalg.norm(mat[left] - mat[current], axis=1)
        current = left[int(np.argmin(dist))]
        order.append(current)
        left.remove(current)
    flowing = [with_vec[i] for i in order]
    if not without:
        return flowing
    # Song k of the others goes after (k + 1) / (len(without) + 1) of the flowing ones.
    out = list(flowing)
    for k, sid in reversed(list(enumerate(without))):
        out.insert(round((k + 1) * len(flowing) / (len(without) + 1)), sid)
    return out
