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
