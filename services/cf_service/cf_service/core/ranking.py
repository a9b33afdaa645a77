"""Vectorised top-N selection and result types shared by every model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


def mask_rows(scores: np.ndarray, rows: sp.csr_matrix, value: float = -np.inf) -> np.ndarray:
    """Set ``scores[r, j] = value`` wherever ``rows[r, j]`` is stored (in place).

    Args:
        scores: (b, n_items) float array.
        rows: (b, n_items) CSR matrix, e.g. the users' training rows (seen songs).
    """
    if rows.nnz:
        r = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
        scores[r, rows.indices] = value
    return scores


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n`` largest entries of every row, best first.

    Args:
        scores: (b, n_items) float array; ``-inf`` marks excluded items.
        n: list length; clipped to ``n_items``.

    Returns:
        ``(idx, vals)``, both (b, n): item indices (int64) and their scores.
        Rows with fewer than ``n`` finite scores end in ``-inf`` entries;
        callers drop those.
    """
    b, m = scores.shape
    n = max(0, min(int(n), m))
    if n == 0 or b == 0:
        return np.zeros((b, 0), np.int64), np.zeros((b, 0), scores.dtype)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n] if n < m else np.tile(np.arange(m), (b, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    # Stable order: score descending, then item index ascending (deterministic ties).
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(vals, order, axis=1)


def sparse_top_n(
    scores: sp.csr_matrix, n: int, seen: sp.csr_matrix | None = None, within: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n`` best stored entries of every row of a sparse score matrix, best first.

    The cost grows with the stored entries, not with ``b * n_items``: a song without a stored score has no
    evidence and is never listed.

    Args:
        scores: (b, n_items) CSR float scores without repeated entries (a sparse product's output has none);
            explicit zeros count as absent.
        seen: (b, n_items) CSR of songs never listed (the histories), or None.
        within: (n_items,) bool mask of the songs that may be listed, or None.

    Returns:
        ``(idx, vals, empty)``: (b, n) int64 ids and (b, n) float32 scores (``-inf`` pads; ties by id ascending),
        and (e,) the rows left without any entry.
    """
    scores = scores.tocsr()
    b = scores.shape[0]
    rows = np.repeat(np.arange(b, dtype=np.int64), np.diff(scores.indptr))
    cols = scores.indices.astype(np.int64)
    data = scores.data.astype(np.float32)
    keep = data != 0
    if within is not None:
        keep &= within[cols]
    if seen is not None and seen.nnz:
        width = np.int64(scores.shape[1])
        seen_rows = np.repeat(np.arange(b, dtype=np.int64), np.diff(seen.indptr))
        keep &= ~np.isin(rows * width + cols, seen_rows * width + seen.indices.astype(np.int64))
    rows, cols, data = rows[keep], cols[keep], data[keep]
    counts = np.bincount(rows, minlength=b)
    starts = np.concatenate([[0], np.cumsum(counts)])
    idx = np.zeros((b, n), np.int64)
    vals = np.full((b, n), -np.inf, np.float32)
    for r in np.flatnonzero(counts).tolist():
        lo, hi = starts[r], starts[r + 1]
        c, d = cols[lo:hi], data[lo:hi]
        if hi - lo > n:
            part = np.argpartition(-d, n - 1)[:n]
            c, d = c[part], d[part]
        order = np.lexsort((c, -d))
        idx[r, : len(order)] = c[order]
        vals[r, : len(order)] = d[order]
    return idx, vals, np.flatnonzero(counts == 0)


@dataclass(frozen=True)
class Because:
    """A history song that contributed to a recommendation."""

    song_id: str
    share: float  # fraction of the (positive) neighbourhood contribution, in [0, 1]


@dataclass
class RecommendedSong:
    """One recommended song.

    Attributes:
        song_id: raw song id.
        score: the model's score (fused RRF score for the vote).
        rank: 1-based position in the list.
        member_ranks: member name -> 1-based rank in that member's list, or None
            when the member did not list the song (vote only; empty otherwise).
        because: up to three history songs that contributed most.
    """

    song_id: str
    score: float
    rank: int
    member_ranks: dict[str, int | None] = field(default_factory=dict)
    because: list[Because] = field(default_factory=list)


@dataclass
class Recommendations:
    """A ranked list for one user (or one fold-in history).

    ``fallback`` is ``"popular"`` when the user (or the whole history) is
    unknown to the model and the list is the popularity ranking instead;
    ``None`` for a personalised list. ``unknown_songs`` counts history songs
    that are not in the model's catalogue (fold-in only).
    """

    user_id: str | None
    items: list[RecommendedSong]
    model: str
    fallback: str | None = None
    unknown_songs: int = 0

    @property
    def song_ids(self) -> list[str]:
        return [it.song_id for it in self.items]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SimilarSong:
    song_id: str
    score: float
    rank: int


@dataclass
class SimilarSongs:
    """Songs similar to ``song_id``; ``fallback="popular"`` if the song is unknown."""

    song_id: str
    items: list[SimilarSong]
    model: str
    fallback: str | None = None

    @property
    def song_ids(self) -> list[str]:
        return [it.song_id for it in self.items]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
