"""The original system's vote ("seed-vote"), reproduced for comparison.

Three surprise algorithms fitted on 1-5 ratings derived from play counts:

* ``BaselineOnly(bsl_options={"method": "sgd", "learning_rate": 0.0005})``
* ``KNNBasic(sim_options={"name": "pearson", "user_based": True})``
* ``KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": True})``

each contributing its top-50 songs; the union is ordered by the number of
lists a song is in, then by its best rank.

Ratings (:func:`ratings_from_counts`): per-user quantiles of play counts. A
song's rating is ``ceil(5 * p)`` with ``p`` the song's percentile rank among
the user's songs (average rank for ties, ``p`` in (0, 1]): the user's most
played song gets 5, a user who played everything once gets 3 everywhere.

Ranking every song through ``predict()`` is far too slow, so scores are
computed in numpy from the fitted parameters, reproducing surprise's
estimates: baseline ``mu + b_u + b_i``; user-kNN with the ``k = 40`` most
similar users *who rated the song* (surprise's per-item neighbourhood), only
positive similarities summed, ``min_k = 1`` (impossible -> global mean for
KNNBasic, baseline for KNNBaseline), estimates clipped to [1, 5] as
``predict()`` does.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from surprise import BaselineOnly, KNNBaseline, KNNBasic

from cf_service.core.data import Interactions, as_interactions, to_trainset
from cf_service.core.ranking import mask_rows, top_n

TOP = 50


def ratings_from_counts(counts: sp.csr_matrix) -> sp.csr_matrix:
    """(n_users, n_songs) CSR float32 ratings 1..5 from play counts (per-user quantiles)."""
    out = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    for u in range(out.shape[0]):
        lo, hi = out.indptr[u], out.indptr[u + 1]
        if hi > lo:
            p = rankdata(out.data[lo:hi], method="average") / (hi - lo)
            out.data[lo:hi] = np.clip(np.ceil(5.0 * p - 1e-9), 1, 5)
    return out


class SeedVote:
    """BaselineOnly + KNNBasic + KNNBaseline, top-50 each, voted by list count then best rank."""

    name = "seed-vote"

    def __init__(self, k: int = 40, top: int = TOP, verbose: bool = False) -> None:
        self.k = int(k)
        self.top = int(top)
        self.verbose = verbose
        self.inter: Interactions | None = None
        self.ratings: sp.csr_matrix | None = None
        self.algos: dict[str, Any] = {}
        self.fit_seconds = 0.0

    def fit(self, data: Any) -> SeedVote:
        start = time.perf_counter()
        inter = as_interactions(data)
        self.inter = inter
        self.ratings = ratings_from_counts(inter.counts)
        trainset = to_trainset(inter.with_counts(self.ratings))
        trainset.rating_scale = (1.0, 5.0)
        self.algos = {
            "baseline": BaselineOnly(bsl_options={"method": "sgd", "learning_rate": 0.0005}, verbose=self.verbose),
            "knn_basic": KNNBasic(sim_options={"name": "pearson", "user_based": True}, verbose=self.verbose),
            "knn_baseline": KNNBaseline(
                sim_options={"name": "pearson_baseline", "user_based": True}, verbose=self.verbose
            ),
        }
        for algo in self.algos.values():
            algo.fit(trainset)
        self.trainset = trainset
        self.fit_seconds = time.perf_counter() - start
        return self

    # --- vectorised estimates ---------------------------------------------------------
    def _knn_scores(self, algo: Any, u: int, with_baseline: bool) -> np.ndarray:
        """(n_songs,) surprise user-kNN estimates of user ``u`` for every song."""
        assert self.ratings is not None
        ratings = self.ratings
        mu = float(self.trainset.global_mean)
        sims = np.asarray(algo.sim[u], dtype=np.float64)
        order = np.argsort(-sims, kind="stable")  # neighbours, most similar first
        csc = ratings[order].tocsc()
        csc.sort_indices()
        # Position of each rater inside its song's column = its neighbour rank for that song.
        cols = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
        pos = np.arange(csc.nnz) - csc.indptr[cols]
        keep = pos < self.k
        v = order[csc.indices[keep]]
        i = cols[keep]
        s = sims[v]
        r = csc.data[keep].astype(np.float64)
        if with_baseline:
            bu, bi = algo.bu, algo.bi
            r = r - (mu + bu[v] + bi[i])
        pos_s = np.where(s > 0, s, 0.0)
        m = ratings.shape[1]
        num = np.bincount(i, weights=pos_s * r, minlength=m)
        den = np.bincount(i, weights=pos_s, minlength=m)
        if with_baseline:
            base = mu + algo.bu[u] + algo.bi
            est = base + np.divide(num, den, out=np.zeros(m), where=den > 0)
        else:
            est = np.where(den > 0, np.divide(num, den, out=np.zeros(m), where=den > 0), mu)
        return np.clip(est, 1.0, 5.0)

    def score_users(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Each algorithm's (b, n_songs) float64 estimates for (b,) inner user ids."""
        bl = self.algos["baseline"]
        mu = float(self.trainset.global_mean)
        users = np.asarray(users, np.int64)
        base = np.clip(mu + bl.bu[users][:, None] + bl.bi[None, :], 1.0, 5.0)
        basic = np.vstack([self._knn_scores(self.algos["knn_basic"], int(u), False) for u in users])
        kbl = np.vstack([self._knn_scores(self.algos["knn_baseline"], int(u), True) for u in users])
        return {"baseline": base, "knn_basic": basic, "knn_baseline": kbl}

    def top_n_users(self, users: np.ndarray, n: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Seed-vote lists: (b, n) inner ids (-1 pads; at most 3 * 50 songs) and vote keys."""
        assert self.inter is not None
        users = np.asarray(users, np.int64)
        seen = self.inter.counts[users]
        m = self.inter.n_songs
        n_lists = np.zeros((len(users), m), np.int32)
        best = np.full((len(users), m), np.iinfo(np.int32).max, np.int32)
        rows = np.arange(len(users))[:, None]
        for scores in self.score_users(users).values():
            scores = scores.astype(np.float64)
            if exclude_seen:
                mask_rows(scores, seen)
            idx, _ = top_n(scores, self.top)
            n_lists[rows, idx] += 1
            best[rows, idx] = np.minimum(best[rows, idx], np.arange(1, idx.shape[1] + 1)[None, :])
        # Key: more lists first, then better best rank; songs in no list excluded.
        key = np.where(n_lists > 0, n_lists.astype(np.float64) * 1e6 - best, -np.inf)
        idx, vals = top_n(key, n)
        return np.where(np.isfinite(vals), idx, -1), vals
