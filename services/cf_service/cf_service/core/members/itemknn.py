"""Asymmetric-cosine item neighbourhood (Aiolli 2013, winner of the MSD Challenge).

``w(i, j) = |U_i & U_j| / (|U_i|^alpha |U_j|^(1-alpha))``, locality exponent ``q``,
top-``k`` neighbours per item kept as a sparse matrix built blockwise.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from surprise import PredictionImpossible

from cf_service.core.members.base import Member, SearchSpace
from cf_service.core.ranking import sparse_top_n


def _prune_rows(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every CSR row (rows are candidates; no repeated entries, as a sparse
    product's output has none, so the large input is never sorted: only the kept entries are)."""
    counts = np.diff(mat.indptr)
    keep = np.ones(mat.nnz, dtype=bool)
    data = mat.data
    # Only rows longer than k need a partition; one small argpartition each.
    for r in np.flatnonzero(counts > k).tolist():
        lo, hi = mat.indptr[r], mat.indptr[r + 1]
        drop = np.argpartition(-data[lo:hi], k)[k:]
        keep[lo + drop] = False
    row_of = np.repeat(np.arange(mat.shape[0]), counts)
    kept_per_row = np.bincount(row_of[keep], minlength=mat.shape[0])
    indptr = np.concatenate([[0], np.cumsum(kept_per_row)]).astype(np.int64)
    out = sp.csr_matrix((data[keep], mat.indices[keep], indptr), shape=mat.shape)
    out.sort_indices()
    return out


@dataclass(frozen=True)
class NeighbourInputs:
    """What the neighbourhood's blocks are computed from.

    Attributes:
        weighted: (n_users, n_songs) CSR float64, each listen ``|I_u|^(-damping/2)``.
        wt: its (n_songs, n_users) CSR transpose.
        n_a, n_b: (n_songs,) float64 weighted listeners to the powers ``alpha`` and ``1 - alpha``.
    """

    weighted: sp.csr_matrix
    wt: sp.csr_matrix
    n_a: np.ndarray
    n_b: np.ndarray


# Co-occurrence matrices are reused across tuning trials that only change
# alpha / q / k / the history transform (one entry; bounded size).
_COOC_CACHE: dict[str, sp.csr_matrix] = {}
COOC_CACHE_MAX_NNZ = 40_000_000
#: Pairs (multiply-adds) one block of the co-occurrence product may take: bounds its memory (~16 bytes a pair).
BLOCK_PAIRS = 30_000_000


def _cooccurrence_key(weighted: sp.csr_matrix) -> str:
    h = hashlib.blake2b(digest_size=16)
    for arr in (weighted.indptr, weighted.indices, weighted.data):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr(weighted.shape).encode())
    return h.hexdigest()


class ItemKNN(Member):
    """Asymmetric-cosine item neighbourhood (Aiolli 2013).

    ``N[i, j] = (|U_i & U_j| / (|U_i|^alpha * |U_j|^(1 - alpha)))^q`` for the
    ``k`` most similar songs ``j`` of each candidate ``i``. Set sizes are
    counted over binary listens, each user weighted by ``1 / |I_u|^user_damping``
    (inverse user frequency: someone who played 500 songs says less about any
    pair of them than someone who played 10; ``user_damping = 0`` is Aiolli's
    plain set version). A user's score for ``i`` is ``sum_j x_uj * N[i, j]``
    over the history ``x_u`` (the transformed play counts).

    Attributes:
        N: (n_songs, n_songs) CSR float32; row ``i`` holds the ``k`` neighbours of ``i``.
    """

    name = "itemknn"
    param_names = ("alpha", "q", "k", "user_damping")
    search_space: ClassVar[SearchSpace] = [
        ("alpha", [0.0, 0.15, 0.3, 0.5, 0.7], True),
        ("q", [1.0, 2.0, 3.0, 5.0], True),
        ("user_damping", [0.0, 0.25, 0.5, 0.75], True),
        ("transform", [{"kind": "binary"}, {"kind": "log1p"}, {"kind": "bm25", "k1": 1.2, "b": 0.75}], False),
        ("k", [100, 200, 400], True),
    ]

    def __init__(
        self,
        alpha: float = 0.5,
        q: float = 3.0,
        k: int = 200,
        transform: str | dict[str, Any] = "binary",
        user_damping: float = 0.0,
        block: int = 2048,
        threads: int | None = None,
    ) -> None:
        super().__init__(transform)
        self.alpha = float(alpha)
        self.q = float(q)
        self.k = int(k)
        self.user_damping = float(user_damping)
        self.block = int(block)
        self.threads = threads
        self.N: sp.csr_matrix | None = None
        self._nt: sp.csr_matrix | None = None

    def inputs(self, X: sp.csr_matrix) -> NeighbourInputs:
        """What every block of the neighbourhood is computed from (see :meth:`neighbour_block`)."""
        lengths = np.maximum(np.diff(X.indptr), 1).astype(np.float64)
        weighted = sp.csr_matrix(X, dtype=np.float64, copy=True)
        # Row u scaled by |I_u|^(-damping/2), so the product weights each user by |I_u|^-damping.
        weighted.data = np.repeat(lengths ** (-self.user_damping / 2.0), np.diff(X.indptr))
        m = weighted.shape[1]
        n = np.bincount(weighted.indices, weights=weighted.data**2, minlength=m)  # (weighted) listeners
        n = np.where(n > 0, n, 1.0)
        return NeighbourInputs(weighted, weighted.T.tocsr(), np.power(n, self.alpha), np.power(n, 1.0 - self.alpha))

    def neighbour_block(
        self, inputs: NeighbourInputs, lo: int, hi: int, co: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """Rows ``lo:hi`` of ``N``: (hi - lo, n_songs) CSR float32, the top-``k`` neighbours of each candidate.

        ``co``: the rows' co-occurrence product when already computed (the tuning's cache), else computed here.
        """
        if co is None:
            co = (inputs.wt[lo:hi] @ inputs.weighted).tocsr()  # co[i - lo, j] = weighted |U_i & U_j|
        rows = np.repeat(np.arange(lo, hi), np.diff(co.indptr))
        j = co.indices
        # Within a row, w = (co / (n_a[i] n_b[j]))^q orders songs as co / n_b[j] does: prune on that, then
        # raise only the k kept entries to the power q.
        order_key = co.data / inputs.n_b[j]
        order_key[j == rows] = 0.0  # no self-similarity
        # Own copies of the index arrays: pruning edits them in place and `co` may be cached.
        sim = sp.csr_matrix((order_key, j.copy(), co.indptr.copy()), shape=co.shape)
        sim.eliminate_zeros()
        sim = _prune_rows(sim, self.k)
        kept_rows = np.repeat(np.arange(lo, hi), np.diff(sim.indptr))
        sim.data = np.power(sim.data / inputs.n_a[kept_rows], self.q).astype(np.float32)
        return sim

    def set_neighbours(self, parts: list[sp.csr_matrix]) -> None:
        """``N`` from its row blocks, in order (int32 indices, float32 weights, sorted rows)."""
        m = self.interactions.n_songs
        out = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((m, m), dtype=np.float32)
        out = sp.csr_matrix(out, dtype=np.float32)
        out.indices = out.indices.astype(np.int32)
        out.sort_indices()
        self.N = out
        self._nt = None

    def _fit(self, X: sp.csr_matrix) -> None:
        inputs = self.inputs(X)
        pair_bound = int(np.square(np.diff(X.indptr), dtype=np.int64).sum())  # >= nnz of the co-occurrence
        if pair_bound <= COOC_CACHE_MAX_NNZ:
            # Small enough to keep: tuning trials that change alpha / q / k reuse the product.
            key = _cooccurrence_key(inputs.weighted)
            if key not in _COOC_CACHE:
                _COOC_CACHE.clear()
                _COOC_CACHE[key] = (inputs.wt @ inputs.weighted).tocsr()
            self.set_neighbours([self.neighbour_block(inputs, 0, X.shape[1], _COOC_CACHE[key])])
            return
        # Candidate rows in blocks of bounded work, pruned to top-k as they finish, so memory stays
        # O(n_songs * k + threads * BLOCK_PAIRS). scipy's sparse product releases the GIL: blocks run side by
        # side on every core.
        with ThreadPoolExecutor(max_workers=self.threads or os.cpu_count() or 1) as pool:
            self.set_neighbours(list(pool.map(lambda b: self.neighbour_block(inputs, *b), self.blocks(X))))

    def blocks(self, X: sp.csr_matrix) -> list[tuple[int, int]]:
        """Candidate-row ranges whose co-occurrence products hold at most :data:`BLOCK_PAIRS` pairs each (and
        at most ``block`` rows): row ``i`` costs ``sum over its listeners u of |I_u|``."""
        m = X.shape[1]
        per_user = np.diff(X.indptr).astype(np.float64)
        binary = sp.csr_matrix((np.ones(X.nnz, np.float32), X.indices, X.indptr), shape=X.shape)
        cost = np.asarray(binary.T @ per_user).ravel()  # (n_songs,) pairs each candidate row touches
        out, lo, acc = [], 0, 0.0
        for i in range(m):
            if i > lo and (acc + cost[i] > BLOCK_PAIRS or i - lo >= self.block):
                out.append((lo, i))
                lo, acc = i, 0.0
            acc += cost[i]
        if lo < m:
            out.append((lo, m))
        return out

    def warm(self) -> Member:
        super().warm()
        _ = self.NT
        return self

    @property
    def NT(self) -> sp.csr_matrix:
        """(n_songs, n_songs) CSR transpose of ``N``: row ``j`` = candidates that ``j`` supports (cached)."""
        if self._nt is None:
            assert self.N is not None
            self._nt = self.N.T.tocsr()
        return self._nt

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        # (b, m) x (m, m), kept sparse until the end: only neighbours of the history.
        return np.asarray((prefs @ self.NT).toarray(), dtype=np.float32)

    def top_n_rows(
        self,
        prefs: sp.csr_matrix,
        users: np.ndarray | None,
        seen: sp.csr_matrix | None,
        n: int,
        within: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n from the sparse product ``prefs @ N^T``: only the neighbours of the histories are touched (cost
        ~ listens x k), and a song no history song neighbours is not listed."""
        scores = (prefs @ self.NT).tocsr()
        idx, vals, empty = sparse_top_n(scores, n, seen, within)
        if len(empty):
            idx[empty], vals[empty] = self.popular_rows(
                len(empty), seen[empty] if seen is not None else None, n, within
            )
        self.pad_popular(idx, vals, seen, within)
        return idx, vals

    def contributions(self, prefs_row: sp.csr_matrix, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-history-song contributions ``x_uj * N[i, j]``.

        Args:
            prefs_row: (1, n_songs) CSR transformed history.
            items: (r,) inner ids of recommended songs.
        Returns:
            ``(hist, contrib)``: (h,) inner ids of the history songs and (r, h) float32.
        """
        assert self.N is not None
        hist = prefs_row.indices.astype(np.int64)
        sub = self.N[items][:, hist].toarray().astype(np.float32)
        return hist, sub * prefs_row.data[None, :].astype(np.float32)

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.X is not None and self.N is not None
        return float(self.X[u].multiply(self.N[i]).sum())

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.N is not None
        return np.asarray(self.N[item].toarray()[0], dtype=np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.N is not None
        return {
            "N_data": self.N.data,
            "N_indices": self.N.indices.astype(np.int32),
            "N_indptr": self.N.indptr.astype(np.int64),
        }

    def _load_arrays(self, arrays: Any) -> None:
        m = self.interactions.n_songs
        self.N = sp.csr_matrix((arrays["N_data"], arrays["N_indices"], arrays["N_indptr"]), shape=(m, m))
        self._nt = None
