"""EASE (Steck 2019) closed form over the most-listened songs.

``B = I - P / diag(P)``, ``P = (X^T X + lambda I)^-1``, over the ``max_items``
most-listened songs only, so memory is bounded by ``max_items^2`` whatever the
catalogue size.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from surprise import PredictionImpossible

from cf_service.core.members.base import Member, SearchSpace


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix via Cholesky (LAPACK potrf/potri).

    About twice as fast as ``np.linalg.inv``; works in place on ``gram``.
    """
    lapack = scipy.linalg.lapack
    potrf, potri = (lapack.spotrf, lapack.spotri) if gram.dtype == np.float32 else (lapack.dpotrf, lapack.dpotri)
    chol, info = potrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info={info})")
    inv, info = potri(chol, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    # potri fills the upper triangle only.
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


class EASE(Member):
    """EASE (Steck 2019) over the ``max_items`` most-listened songs.

    ``B = I - P / diag(P)`` with ``P = (X_c^T X_c + lam * s * I)^-1``, ``X_c``
    the transformed matrix restricted to the capped catalogue and ``s`` the
    mean squared non-zero preference (1 for ``binary``), so ``lam`` keeps its
    meaning across transforms. Songs outside
    the cap are never recommended by this member (score ``-inf``) and do not
    contribute to scores.

    Attributes:
        items: (M,) int64 inner ids of the capped songs (sorted ascending).
        pos: (n_songs,) int64 position of each song in ``items``, -1 if outside.
        B: (M, M) float32 item-item weights, zero diagonal; ``B[j, i]`` is the
            weight of history song ``items[j]`` for candidate ``items[i]``.
    """

    name = "ease"
    param_names = ("lam", "max_items", "dropout")
    search_space: ClassVar[SearchSpace] = [
        ("lam", [5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0], True),
        ("transform", [{"kind": "binary"}, {"kind": "log1p"}, {"kind": "bm25", "k1": 1.2, "b": 0.75}], False),
    ]

    def __init__(
        self,
        lam: float = 200.0,
        max_items: int = 8000,
        transform: str | dict[str, Any] = "binary",
        dropout: float = 0.0,
        dtype: str = "float32",
        blas_threads: int | None = None,
    ) -> None:
        super().__init__(transform)
        self.blas_threads = blas_threads
        self.lam = float(lam)
        self.dropout = float(dropout)
        self.max_items = int(max_items)
        self.dtype = str(dtype)
        self.items = np.zeros(0, np.int64)
        self.pos = np.zeros(0, np.int64)
        self.B: np.ndarray | None = None
        self.lam_scale = 1.0

    def _cap(self, X: sp.csr_matrix) -> None:
        m = X.shape[1]
        listeners = np.bincount(X.indices, minlength=m)
        order = np.lexsort((np.arange(m), -listeners))  # most listened first, ties by id
        chosen = order[: min(self.max_items, m)]
        chosen = chosen[listeners[chosen] > 0]
        self.items = np.sort(chosen).astype(np.int64)
        self.pos = np.full(m, -1, np.int64)
        self.pos[self.items] = np.arange(len(self.items))

    def _fit(self, X: sp.csr_matrix) -> None:
        self._cap(X)
        xc = X[:, self.items]
        self.solve(np.asarray((xc.T @ xc).toarray(), dtype=np.dtype(self.dtype)), X)

    def capped(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """Choose the capped songs (:attr:`items`) from ``X`` and return ``X`` restricted to them: (n_users, M) CSR.
        Its Gram matrix ``X_c^T X_c`` is what :meth:`solve` takes (a Spark job accumulates it in blocks)."""
        self._cap(X)
        return sp.csr_matrix(X[:, self.items])

    def solve(self, gram: np.ndarray, X: sp.csr_matrix) -> None:
        """``B`` from the (M, M) Gram matrix of the capped songs (edited in place) and the transformed ``X``."""
        gram = np.asarray(gram, dtype=np.dtype(self.dtype))
        # lam is in "binary units": scaled by the mean squared preference so one
        # value means the same shrinkage whichever transform is used.
        self.lam_scale = float(np.mean(np.square(X.data, dtype=np.float64))) if X.nnz else 1.0
        diag = np.diag(gram).copy()
        gram[np.diag_indices_from(gram)] += self.lam * self.lam_scale
        if self.dropout > 0:
            # EDLAE (Steck 2020): dropout-style shrinkage proportional to each song's
            # own Gram diagonal penalises popular songs' self-reconstruction more.
            gram[np.diag_indices_from(gram)] += self.dropout / (1.0 - self.dropout) * diag
        from threadpoolctl import threadpool_limits

        # The inversion is the one BLAS-bound step: use every core even when the
        # process was started with OPENBLAS_NUM_THREADS=1 for implicit's sake.
        with threadpool_limits(limits=self.blas_threads or os.cpu_count() or 1, user_api="blas"):
            inv = _spd_inverse(gram)
        del gram
        diag = np.diag(inv).copy()
        inv /= -diag[None, :]
        np.fill_diagonal(inv, 0.0)
        self.B = np.ascontiguousarray(inv, dtype=np.float32)

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.B is not None
        out = np.full(prefs.shape, -np.inf, dtype=np.float32)
        if len(self.items):
            sub = prefs[:, self.items]
            out[:, self.items] = np.asarray(sub @ self.B, dtype=np.float32)
        return out

    def top_n_rows(
        self,
        prefs: sp.csr_matrix,
        users: np.ndarray | None,
        seen: sp.csr_matrix | None,
        n: int,
        within: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n over the capped block only: (b, M) scores from the sparse histories (cost ~ listens x M)."""
        assert self.B is not None
        block = np.asarray(prefs[:, self.items] @ self.B, dtype=np.float32).reshape(prefs.shape[0], len(self.items))
        return self.finish_block(block, self.items, self.pos, seen, n, within)

    def contributions(self, prefs_row: sp.csr_matrix, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`ItemKNN.contributions`: (h,) history ids and (r, h) ``x_uj * B[j, i]``."""
        assert self.B is not None
        hist = prefs_row.indices.astype(np.int64)
        hp, ip = self.pos[hist], self.pos[np.asarray(items, np.int64)]
        out = np.zeros((len(items), len(hist)), np.float32)
        hv, iv = hp >= 0, ip >= 0
        if hv.any() and iv.any():
            block = self.B[np.ix_(hp[hv], ip[iv])].T * prefs_row.data[hv][None, :]
            out[np.ix_(np.flatnonzero(iv), np.flatnonzero(hv))] = block
        return hist, out

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.X is not None and self.B is not None
        if self.pos[i] < 0:
            raise PredictionImpossible("song outside the EASE catalogue cap")
        row = self.X[u]
        p = self.pos[row.indices]
        ok = p >= 0
        return float(row.data[ok] @ self.B[p[ok], self.pos[i]])

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.B is not None
        out = np.zeros(self.interactions.n_songs, np.float32)
        if self.pos[item] >= 0:
            out[self.items] = np.maximum(self.B[:, self.pos[item]], 0.0)
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.B is not None
        return {"B": self.B, "items": self.items}

    def _load_arrays(self, arrays: Any) -> None:
        self.B = np.asarray(arrays["B"], dtype=np.float32)
        self.items = np.asarray(arrays["items"], dtype=np.int64)
        self.pos = np.full(self.interactions.n_songs, -1, np.int64)
        self.pos[self.items] = np.arange(len(self.items))
