"""Play count -> preference weight transforms.

Play counts are implicit feedback with a heavy tail (a few songs on repeat),
so every model takes a configurable transform of the count matrix:

* ``binary``      1 for every played song (the classic Taste Profile setting);
* ``log1p``       ``log(1 + c)``: more plays, more weight, sub-linearly;
* ``bm25``        Okapi BM25 weighting (per-user length normalisation times
                  per-song idf), as implicit's ``bm25_weight`` does for item
                  neighbourhoods and ALS;
* ``tfidf``       ``log1p(c) * idf``;
* ``confidence``  ``1 + alpha * log(1 + c / eps)`` (Hu, Koren & Volinsky 2008),
                  the confidence used by implicit ALS.

A transform is *fitted* (idf and the average user length come from the
training matrix) so that fold-in histories are weighted exactly as training
rows were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

KINDS = ("binary", "log1p", "bm25", "tfidf", "confidence")


@dataclass
class PreferenceTransform:
    """A fitted count transform.

    Attributes:
        kind: one of :data:`KINDS`.
        alpha, eps: parameters of ``confidence``.
        k1, b: parameters of ``bm25``.
        idf: (n_songs,) float32 idf of each song (``bm25``/``tfidf``), fitted.
        avg_len: mean number of songs per training user (``bm25``), fitted.
    """

    kind: str = "binary"
    alpha: float = 1.0
    eps: float = 1.0
    k1: float = 1.2
    b: float = 0.75
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    avg_len: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown transform {self.kind!r}; expected one of {KINDS}")

    def fit(self, counts: sp.csr_matrix) -> PreferenceTransform:
        """Learn idf / average length from (n_users, n_songs) CSR counts."""
        n_users = max(1, counts.shape[0])
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        # Smoothed idf, always > 0 so a song every user played keeps some weight.
        self.idf = np.log1p(n_users / (1.0 + df)).astype(np.float32)
        lengths = np.diff(counts.indptr)
        self.avg_len = float(lengths.mean()) if len(lengths) else 1.0
        return self

    def apply(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """(n_rows, n_songs) CSR float32 preferences of CSR counts of the same song space."""
        out = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        c = out.data.astype(np.float64)
        if self.kind == "binary":
            w = np.ones_like(c)
        elif self.kind == "log1p":
            w = np.log1p(c)
        elif self.kind == "confidence":
            w = 1.0 + self.alpha * np.log1p(c / self.eps)
        else:
            idf = self._idf_for(out.shape[1])[out.indices].astype(np.float64)
            if self.kind == "tfidf":
                w = np.log1p(c) * idf
            else:  # bm25
                lengths = np.repeat(np.diff(out.indptr), np.diff(out.indptr)).astype(np.float64)
                norm = self.k1 * (1.0 - self.b + self.b * lengths / max(self.avg_len, 1e-9))
                w = c * (self.k1 + 1.0) / (norm + c) * idf
        out.data = w.astype(np.float32)
        return out

    def _idf_for(self, n_songs: int) -> np.ndarray:
        if len(self.idf) != n_songs:
            raise ValueError("transform was not fitted on this song space")
        return self.idf

    def params(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (not the fitted arrays)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "confidence":
            out.update(alpha=self.alpha, eps=self.eps)
        if self.kind == "bm25":
            out.update(k1=self.k1, b=self.b)
        return out

    @classmethod
    def from_params(cls, params: dict[str, Any] | str) -> PreferenceTransform:
        if isinstance(params, str):
            return cls(kind=params)
        return cls(**{k: v for k, v in params.items() if k in {"kind", "alpha", "eps", "k1", "b"}})
