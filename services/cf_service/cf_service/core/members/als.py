"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008).

Fitted by the ``implicit`` library's CPU conjugate-gradient ALS; fold-in of an
unseen history is one ``factors x factors`` solve.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from surprise import PredictionImpossible

from cf_service.core.members.base import Member, SearchSpace


class ALS(Member):
    """Implicit ALS (Hu, Koren & Volinsky 2008) via ``implicit``'s CPU solver.

    Confidence ``c_ui = alpha * pref_ui`` on played songs (preference 1), 1
    with preference 0 elsewhere; ``pref`` is the configured transform.

    Lists are drawn from the ``max_items`` most-listened songs (:attr:`block`), as EASE's are from its cap, so
    scoring a listener costs ``factors x max_items`` at any catalogue size; the tail is the neighbourhood's.

    Attributes:
        user_factors: (n_users, factors) float32.
        item_factors: (n_songs, factors) float32.
    """

    name = "als"
    param_names = ("factors", "regularization", "alpha", "iterations", "seed", "max_items")
    search_space: ClassVar[SearchSpace] = [
        (
            "transform",
            [
                {"kind": "bm25", "k1": 1.2, "b": 0.75},
                {"kind": "confidence", "alpha": 1.0, "eps": 1.0},
                {"kind": "log1p"},
            ],
            False,
        ),
        ("factors", [32, 64, 128, 256], True),
        ("regularization", [0.1, 1.0, 5.0, 20.0], True),
        ("alpha", [0.5, 1.0, 2.0, 4.0], True),
    ]

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        transform: str | dict[str, Any] = "bm25",
        seed: int = 0,
        num_threads: int = 0,
        max_items: int = 30_000,
    ) -> None:
        super().__init__(transform)
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.seed = int(seed)
        self.num_threads = int(num_threads)
        self.max_items = int(max_items)
        self._block: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None
        self._yty: np.ndarray | None = None

    def _fit(self, X: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises over users itself; a threaded BLAS underneath it thrashes.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._yty = None
        self._block = None

    def warm(self) -> Member:
        super().warm()
        _ = self.yty, self.block
        return self

    @property
    def yty(self) -> np.ndarray:
        """(factors, factors) float64 Gram matrix of the item factors (cached)."""
        if self._yty is None:
            assert self.item_factors is not None
            y = self.item_factors.astype(np.float64)
            self._yty = y.T @ y
        return self._yty

    def fold_in(self, prefs: sp.csr_matrix) -> np.ndarray:
        """(b, factors) user vectors of (b, n_songs) CSR preference rows: one ALS user step each.

        Solves ``(Y^T Y + Y_h^T (C_h - 1) Y_h + reg I) x = Y_h^T C_h 1`` (the same
        normal equations implicit solves for a training user).
        """
        assert self.item_factors is not None
        y = self.item_factors
        base = self.yty + self.regularization * np.eye(self.factors)
        out = np.zeros((prefs.shape[0], self.factors), np.float32)
        for r in range(prefs.shape[0]):
            lo, hi = prefs.indptr[r], prefs.indptr[r + 1]
            if hi == lo:
                continue
            yh = y[prefs.indices[lo:hi]].astype(np.float64)
            c = self.alpha * prefs.data[lo:hi].astype(np.float64)
            a = base + (yh.T * (c - 1.0)) @ yh
            out[r] = scipy.linalg.solve(a, yh.T @ c, assume_a="pos")
        return out

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.user_factors is not None and self.item_factors is not None
        vecs = self.user_factors[users] if users is not None else self.fold_in(prefs)
        return np.asarray(vecs @ self.item_factors.T, dtype=np.float32)

    def top_n_rows(
        self,
        prefs: sp.csr_matrix,
        users: np.ndarray | None,
        seen: sp.csr_matrix | None,
        n: int,
        within: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n among the ``max_items`` most-listened songs: one (b, f) x (f, M) BLAS product and an
        ``argpartition``, so a batch costs the same whatever the catalogue's size."""
        assert self.user_factors is not None and self.item_factors is not None
        vecs = self.user_factors[users] if users is not None else self.fold_in(prefs)
        cols, pos, factors = self.block
        scores = np.asarray(vecs @ factors.T, dtype=np.float32)
        return self.finish_block(scores, cols, pos, seen, n, within)

    @property
    def block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The songs this member lists: (M,) inner ids (the ``max_items`` most listened, ascending), (n_songs,)
        position of each song in them (-1 outside) and their (M, factors) float32 factors (cached)."""
        if self._block is None:
            assert self.item_factors is not None and self.popularity is not None
            m = len(self.item_factors)
            order = self.popular_order[: min(self.max_items, m)]
            cols = np.sort(order).astype(np.int64)
            pos = np.full(m, -1, np.int64)
            pos[cols] = np.arange(len(cols))
            self._block = (cols, pos, np.ascontiguousarray(self.item_factors[cols]))
        return self._block

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.user_factors is not None and self.item_factors is not None
        return float(self.user_factors[u] @ self.item_factors[i])

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.item_factors is not None
        norms = np.linalg.norm(self.item_factors, axis=1) + 1e-9
        return np.asarray(self.item_factors @ self.item_factors[item] / (norms * norms[item]), np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.user_factors is not None and self.item_factors is not None
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _load_arrays(self, arrays: Any) -> None:
        self.user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        self._yty = None
        self._block = None
