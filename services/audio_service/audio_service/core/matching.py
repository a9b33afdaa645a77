"""Clip → song matching by voting over patch-level nearest neighbours, with aligned segment pairs.

Every query patch (≈3 s, small hop) is searched in the patch index. A hit says "query time t_q
sounds like song s at time t_s"; its offset ``t_s - t_q`` is binned (1.5 s bins on two staggered
grids, tolerant to ±5% tempo changes over a short clip). A song's score is, for its best offset
bin, the sum over query patches of the best similarity in that bin, divided by the number of
query patches: high only when many query patches agree on one alignment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from audio_service.core.features import PATCH_SECONDS

BIN_S = 1.5


@dataclass(frozen=True)
class SegmentPair:
    """Clip ``[clip_start, clip_end]`` sounds like song ``[song_start, song_end]`` (seconds)."""

    clip_start: float
    clip_end: float
    song_start: float
    song_end: float
    score: float


@dataclass
class SongMatch:
    song_id: str
    score: float
    segments: list[SegmentPair] = field(default_factory=list)


def vote(
    q_starts: np.ndarray, scores: np.ndarray, rows: np.ndarray, patch_song: np.ndarray, patch_start: np.ndarray
) -> dict[int, tuple[float, list[tuple[float, float, float]]]]:
    """Aggregate patch hits per song.

    ``q_starts`` ``(n_q,)`` seconds; ``scores``/``rows`` ``(n_q, k)`` from the patch index;
    ``patch_song``/``patch_start`` ``(n_patches,)``. Returns ``{song_row: (score, [(t_q, t_s, sim)])}``.
    """
    n_q = len(q_starts)
    # (song, grid, bin) -> {q: (sim, t_s)}
    best: dict[tuple[int, int, int], dict[int, tuple[float, float]]] = defaultdict(dict)
    for qi in range(n_q):
        for sim, row in zip(scores[qi], rows[qi], strict=True):
            if row < 0:
                continue
            song = int(patch_song[row])
            t_s = float(patch_start[row])
            off = t_s - float(q_starts[qi])
            for grid in (0, 1):
                b = int(np.floor((off + grid * BIN_S / 2) / BIN_S))
                cell = best[(song, grid, b)]
                if qi not in cell or sim > cell[qi][0]:
                    cell[qi] = (float(sim), t_s)
    out: dict[int, tuple[float, list[tuple[float, float, float]]]] = {}
    for (song, _g, _b), cell in best.items():
        total = sum(v[0] for v in cell.values()) / n_q
        if song not in out or total > out[song][0]:
            out[song] = (total, [(float(q_starts[q]), t_s, sim) for q, (sim, t_s) in sorted(cell.items())])
    return out


def merge_segments(
    pairs: list[tuple[float, float, float]], clip_duration: float, song_duration: float | None, q_hop_s: float
) -> list[SegmentPair]:
    """Merge consecutive aligned patch pairs ``[(t_q, t_s, sim)]`` into longer segment pairs (best first)."""
    segs: list[list[tuple[float, float, float]]] = []
    for p in sorted(pairs):
        if segs and p[0] - segs[-1][-1][0] <= q_hop_s * 1.5 + 1e-6:
            segs[-1].append(p)
        else:
            segs.append([p])
    out: list[SegmentPair] = []
    for seg in segs:
        c0, c1 = seg[0][0], min(seg[-1][0] + PATCH_SECONDS, clip_duration)
        s0 = seg[0][1]
        s1 = s0 + (c1 - c0)  # same length on both sides
        if song_duration is not None:
            s1 = min(s1, song_duration)
        out.append(
            SegmentPair(
                round(c0, 2), round(c1, 2), round(s0, 2), round(s1, 2), round(float(np.mean([p[2] for p in seg])), 4)
            )
        )
    return sorted(out, key=lambda s: -s.score)
