"""Fusing collaborative and audio recommendations into one list with reasons.

Pure logic: the HTTP layer fetches the candidate lists (from cf_service, from
audio_service, from the cache) and the user's history, then calls
:func:`fuse`. Fusion is weighted reciprocal-rank fusion (RRF): a song's score is
``sum_source weight_source / (k + rank_source)``. RRF needs no score calibration
between sources whose scores live on different scales (rank-fusion vote scores
vs cosine similarities), and a song both sources agree on rises to the top.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    """One song proposed by one source.

    Attributes:
        song_id: the gateway's song id.
        rank: 1-based rank in that source's list.
        score: the source's own score (kept for display, not used to fuse).
        reason: a human sentence, e.g. "because you played X".
        about: the song the reason names (X), if any.
    """

    song_id: int
    rank: int
    score: float = 0.0
    reason: str | None = None
    about: int | None = None


@dataclass(frozen=True)
class Why:
    """One reason of a fused song: the source that gave it, its sentence, the song it names (or None)."""

    source: str
    text: str
    about: int | None = None


@dataclass
class Fused:
    song_id: int
    score: float
    sources: dict[str, int] = field(default_factory=dict)  # source -> rank in it
    why: list[Why] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """The reasons' sentences, in the order the sources gave them."""
        return [w.text for w in self.why]


def fuse(
    lists: Mapping[str, Sequence[Candidate]],
    weights: Mapping[str, float],
    *,
    n: int,
    exclude: Iterable[int] = (),
    artist_of: Mapping[int, str | None] | None = None,
    max_per_artist: int = 2,
    artist_window: int = 10,
    k: float = 60.0,
    named: Collection[int] | None = None,
    factor: Callable[[int], float] | None = None,
) -> list[Fused]:
    """Weighted RRF of several ranked lists.

    Args:
        lists: source name -> candidates (any order; ``rank`` is used).
        weights: source name -> weight (missing source: weight 1).
        n: how many songs to return.
        exclude: song ids never to return (already played, disliked).
        artist_of: song id -> artist, for the artist spread rule.
        max_per_artist: at most this many songs by one artist among the first ``artist_window``.
        k: RRF constant; larger flattens the rank curve.
        named: ids of songs with a title and an artist; among songs of equal fused score they come first
            (any other order is the score's).
        factor: song id -> what its fused score is multiplied by (the listener's signals and rules,
            :class:`gateway.core.taste.Taste`); 0 leaves the song out.

    Returns:
        Up to ``n`` fused songs, best first; the songs pushed out of the first
        ``artist_window`` by the artist rule follow in their fused order.
    """
    excluded = set(exclude)
    fused: dict[int, Fused] = {}
    for source, candidates in lists.items():
        weight = float(weights.get(source, 1.0))
        if weight <= 0:
            continue
        for cand in candidates:
            if cand.song_id in excluded:
                continue
            entry = fused.setdefault(cand.song_id, Fused(cand.song_id, 0.0))
            if source in entry.sources:  # a source listing a song twice counts once, at its best rank
                if cand.rank >= entry.sources[source]:
                    continue
                entry.score -= weight / (k + entry.sources[source])
            entry.score += weight / (k + cand.rank)
            entry.sources[source] = cand.rank
            if cand.reason and cand.reason not in entry.reasons:
                entry.why.append(Why(source, cand.reason, cand.about))
    if factor is not None:
        for song_id in list(fused):
            f = factor(song_id)
            if f <= 0:
                del fused[song_id]
            else:
                fused[song_id].score *= f
    titled = named if named is not None else ()
    # Rounded: equal rank sums reached in a different order differ in the last bits.
    ordered = sorted(fused.values(), key=lambda f: (-round(f.score, 12), f.song_id not in titled, f.song_id))
    if artist_of is None:
        return ordered[:n]
    head: list[Fused] = []
    deferred: list[Fused] = []
    per_artist: dict[str, int] = {}
    for item in ordered:
        if len(head) >= min(n, artist_window):
            deferred.append(item)
            continue
        artist = (artist_of.get(item.song_id) or "").strip().lower()
        if artist and per_artist.get(artist, 0) >= max_per_artist:
            deferred.append(item)
            continue
        if artist:
            per_artist[artist] = per_artist.get(artist, 0) + 1
        head.append(item)
    return (head + deferred)[:n]


def named_first_on_ties(items: Sequence[T], score: Callable[[T], float], named: Callable[[T], bool]) -> list[T]:
    """Reorder runs of equal score so that named songs come first; every other order is kept.

    Args:
        items: a ranked list, best first (e.g. cf_service's, whose popularity fallback has long ties).
        score: the item's score; only items with exactly this score in a row are reordered.
        named: whether the item's song has a title and an artist.
    """
    out: list[T] = []
    for _, run in itertools.groupby(items, key=score):
        group = list(run)
        out.extend(sorted(group, key=lambda item: not named(item)))  # stable
    return out


def spread(
    song_ids: Sequence[int], artist_of: Mapping[int, str | None], max_per_artist: int = 2, window: int = 10
) -> list[int]:
    """``song_ids`` in order, leaving out any song that would put more than ``max_per_artist`` songs of one
    artist in some ``window`` consecutive songs (songs without an artist are never left out)."""
    kept: list[int] = []
    for sid in song_ids:
        artist = (artist_of.get(sid) or "").casefold()
        recent = kept[-(window - 1) :] if window > 1 else []
        if artist and sum(1 for r in recent if (artist_of.get(r) or "").casefold() == artist) >= max_per_artist:
            continue
        kept.append(sid)
    return kept
