"""Synthetic listens with the shape of the Echo Nest Taste Profile, streamed to a TSV file.

The full Taste Profile (``train_triplets.txt``) has 48,373,586 listens by
1,019,318 users of 384,546 songs: every user has at least 10 songs, user
activity and song popularity are heavy-tailed (power laws), and most play
counts are 1 with a long tail. :func:`generate` writes a file of the same
format (``user_id<TAB>song_id<TAB>play_count``, grouped by user, 40-hex user
ids and 18-character ``SO...`` song ids) at ``fraction`` of that size: all
three counts are scaled, so ``fraction=0.1`` gives 101,932 users,
38,455 songs and 4,837,359 listens, exactly.

Shape:

* user activity (distinct songs per user): Pareto with minimum 10 and tail
  index :data:`USER_TAIL`, capped, then rescaled so the lengths add up to the
  listen count exactly;
* song popularity: Zipf-Mandelbrot weights ``(rank + q)^-s`` over a hashed
  song order; each user's songs are drawn from them without replacement;
* play counts: Zipf (``zeta(a)``) capped at 9,667, the real maximum.

Memory is bounded: one ``int32`` length per user and one ``float64`` weight
per song are kept (12 MB at full size), listens are drawn and written a block
of :data:`BLOCK_USERS` users at a time. Every block has its own random stream
derived from ``seed``, so the output is byte-for-byte deterministic.

Pure module: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

FULL_USERS = 1_019_318
FULL_SONGS = 384_546
FULL_LISTENS = 48_373_586
MIN_SONGS_PER_USER = 10
MAX_SONGS_PER_USER = 4_400  # about the heaviest real user
MAX_PLAY_COUNT = 9_667
USER_TAIL = 1.3  # Pareto index of user activity (mean ~ 4.3 x minimum before rescaling)
SONG_EXPONENT = 0.95  # Zipf-Mandelbrot exponent of song popularity
SONG_OFFSET = 30.0  # Mandelbrot offset: flattens the very top so no song reaches everybody
COUNT_EXPONENT = 2.3  # zeta exponent of play counts (mean ~ 2.6 after the cap)
BLOCK_USERS = 10_000
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Shape:
    """Target sizes of a synthetic file."""

    users: int
    songs: int
    listens: int

    @classmethod
    def at(cls, fraction: float) -> Shape:
        """The Taste Profile's sizes times ``fraction`` (at least 1 user, 10 songs and 10 listens a user)."""
        if not 0 < fraction <= 1.0:
            raise ValueError("fraction must be in (0, 1]")
        users = max(1, round(FULL_USERS * fraction))
        songs = max(2 * MIN_SONGS_PER_USER, round(FULL_SONGS * fraction))
        listens = max(users * MIN_SONGS_PER_USER, round(FULL_LISTENS * fraction))
        return cls(users, songs, listens)


def _mix(x: np.ndarray, mult: int, add: int) -> list[int]:
    """``(x * mult + add) mod 2^64``: a bijection of 64-bit ints for odd ``mult``, so ids stay unique."""
    return [(int(v) * mult + add) & _MASK64 for v in np.asarray(x).tolist()]


def user_id(u: np.ndarray, seed: int) -> np.ndarray:
    """(n,) unicode 40-hex user ids of inner users ``u``."""
    prefix = f"{(seed * 0x94D049BB133111EB + 0x5BD1E995) & ((1 << 96) - 1):024x}"
    return np.asarray([f"{prefix}{m:016x}" for m in _mix(u, 0x9E3779B97F4A7C15, seed * 0xBF58476D1CE4E5B9 + 1)])


def song_id(j: np.ndarray, seed: int) -> np.ndarray:
    """(n,) unicode 18-character ``SO`` + 16 upper-case hex song ids of inner songs ``j``."""
    return np.asarray([f"SO{m:016X}" for m in _mix(j, 0xD6E8FEB86659FD93, seed * 0x2545F4914F6CDD1D + 7)])


def user_lengths(shape: Shape, seed: int) -> np.ndarray:
    """(users,) int32 distinct songs per user: capped Pareto, summing to ``shape.listens`` exactly."""
    rng = np.random.default_rng([seed, 0])
    cap = max(MIN_SONGS_PER_USER, min(MAX_SONGS_PER_USER, shape.songs // 2))
    raw = MIN_SONGS_PER_USER * (1.0 - rng.random(shape.users)) ** (-1.0 / USER_TAIL)
    raw = np.minimum(raw, cap)
    # Rescale the part above the minimum so the total is right, keeping the tail's shape.
    extra_target = shape.listens - MIN_SONGS_PER_USER * shape.users
    extra = raw - MIN_SONGS_PER_USER
    if extra.sum() > 0:
        extra *= extra_target / extra.sum()
    lengths = np.minimum(MIN_SONGS_PER_USER + np.floor(extra), cap).astype(np.int64)
    # Hand out (or take back) the rounding remainder one song at a time, in a seeded order.
    residual = int(shape.listens - lengths.sum())
    order = rng.permutation(shape.users)
    while residual != 0:
        step = 1 if residual > 0 else -1
        room = (lengths[order] < cap) if step > 0 else (lengths[order] > MIN_SONGS_PER_USER)
        chosen = order[room][: abs(residual)]
        if len(chosen) == 0:
            raise ValueError(f"cannot place {shape.listens} listens on {shape.users} users of <= {cap} songs")
        lengths[chosen] += step
        residual -= step * len(chosen)
    return lengths.astype(np.int32)


def song_weights(shape: Shape) -> np.ndarray:
    """(songs,) float64 Zipf-Mandelbrot popularity of inner songs 0..songs-1 (song 0 the most popular)."""
    w = (np.arange(1, shape.songs + 1, dtype=np.float64) + SONG_OFFSET) ** -SONG_EXPONENT
    return w / w.sum()


def _draw_block(rng: np.random.Generator, lengths: np.ndarray, cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct songs for a block of users: ``(row_user, song)`` sorted by user (local user 0..b-1)."""
    n_songs = len(cdf)
    need = lengths.astype(np.int64).copy()
    have = np.zeros(0, np.int64)  # keys user * n_songs + song already drawn
    for _round in range(64):
        if not need.any():
            break
        # Over-draw a little (duplicates of popular songs are thrown away below).
        k = np.ceil(need * 1.2).astype(np.int64) + 2
        users = np.repeat(np.arange(len(lengths), dtype=np.int64), k)
        songs = np.minimum(np.searchsorted(cdf, rng.random(len(users)), side="right"), n_songs - 1)
        keys = users * n_songs + songs
        keys = np.unique(keys)  # sorted, distinct
        keys = keys[~np.isin(keys, have, assume_unique=True)]
        # Keep at most need[u] new songs per user, chosen at random among the new ones.
        rng.shuffle(keys)
        u = keys // n_songs
        order = np.argsort(u, kind="stable")
        keys, u = keys[order], u[order]
        first = np.searchsorted(u, np.arange(len(lengths)))
        rank = np.arange(len(keys)) - first[u]
        keys = keys[rank < need[u]]
        have = np.union1d(have, keys)
        need -= np.bincount(keys // n_songs, minlength=len(lengths))
    if need.any():
        # Only heavy users on a tiny catalogue get here: fill with uniform picks of unplayed songs.
        for r in np.flatnonzero(need).tolist():
            mine = have[(have // n_songs) == r] % n_songs
            free = np.setdiff1d(np.arange(n_songs), mine)
            have = np.union1d(have, r * n_songs + rng.choice(free, int(need[r]), replace=False))
        need[:] = 0
    return have // n_songs, have % n_songs


def play_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,) int64 play counts: zeta(:data:`COUNT_EXPONENT`) capped at :data:`MAX_PLAY_COUNT`."""
    return np.minimum(rng.zipf(COUNT_EXPONENT, n), MAX_PLAY_COUNT).astype(np.int64)


def iter_blocks(shape: Shape, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(user, song, count)`` inner-id arrays, one block of users at a time, users in order."""
    lengths = user_lengths(shape, seed)
    cdf = np.cumsum(song_weights(shape))
    cdf[-1] = 1.0
    # Hashed popularity order: song ids do not sort by popularity.
    perm = np.random.default_rng([seed, 1]).permutation(shape.songs)
    for b, lo in enumerate(range(0, shape.users, BLOCK_USERS)):
        hi = min(shape.users, lo + BLOCK_USERS)
        rng = np.random.default_rng([seed, 2, b])
        u, s = _draw_block(rng, lengths[lo:hi], cdf)
        yield u + lo, perm[s], play_counts(rng, len(u))


def write_block(
    handle: TextIO, users: np.ndarray, songs: np.ndarray, counts: np.ndarray, seed: int, song_ids: np.ndarray
) -> None:
    """Append one block's lines; ``song_ids`` are all raw song ids (inner id -> string)."""
    uniq_u, inv_u = np.unique(users, return_inverse=True)
    uid = user_id(uniq_u, seed)[inv_u]
    sid = song_ids[songs]
    lines = np.char.add(np.char.add(np.char.add(uid, "\t"), np.char.add(sid, "\t")), counts.astype(str))
    handle.write("\n".join(lines.tolist()))
    handle.write("\n")


def generate(path: str | Path, fraction: float = 0.1, seed: int = 0, header: bool = False) -> dict[str, int]:
    """Write the synthetic file; returns ``{"users", "songs", "listens"}`` actually written.

    ``songs`` counts songs that got at least one listen (a few of the rarest
    may get none at small fractions). ``header`` adds the
    ``user_id song_id play_count`` line the shipped samples have.
    """
    shape = Shape.at(fraction)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    seen_songs = np.zeros(shape.songs, bool)
    song_ids = song_id(np.arange(shape.songs), seed)  # 28 MB of <U18 at full size
    rows = 0
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w") as handle:
        if header:
            handle.write("user_id\tsong_id\tplay_count\n")
        for users, songs, counts in iter_blocks(shape, seed):
            write_block(handle, users, songs, counts, seed, song_ids)
            seen_songs[songs] = True
            rows += len(users)
    tmp.replace(out)
    return {"users": shape.users, "songs": int(seen_songs.sum()), "listens": rows}
