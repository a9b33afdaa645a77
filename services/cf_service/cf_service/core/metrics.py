"""Top-N ranking metrics with binary relevance (the Mult-VAE / MSD conventions).

All functions take ``ranked`` (b, L) int item ids, best first (``-1`` pads a
short list), and ``relevant`` as a list of b sets / arrays of held-out ids.

* NDCG@k: binary gains ``1 / log2(rank + 1)``; ideal DCG over ``min(k, |held-out|)``.
* Recall@k: hits in the top k divided by ``min(k, |held-out|)``.
* MAP@k: average precision truncated at k, divided by ``min(k, |held-out|)``.

Users with an empty held-out set must be removed by the caller (they are
skipped by the evaluation protocol); here they score 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hits_matrix(ranked: np.ndarray, relevant: Sequence[set[int] | np.ndarray]) -> np.ndarray:
    """(b, L) bool: ``ranked[u, r]`` is a held-out item of user ``u``."""
    ranked = np.asarray(ranked, dtype=np.int64)
    b = ranked.shape[0]
    if b == 0 or ranked.size == 0:
        return np.zeros(ranked.shape, dtype=bool)
    rel = [np.fromiter(r, dtype=np.int64) if isinstance(r, set) else np.asarray(r, np.int64).ravel() for r in relevant]
    width = int(max(ranked.max(initial=0), max((r.max(initial=0) for r in rel), default=0))) + 1
    # One vectorised membership test on (user, item) keys instead of a per-user loop.
    keys = np.concatenate([u * width + r for u, r in enumerate(rel)]) if rel else np.zeros(0, np.int64)
    cand = np.arange(b, dtype=np.int64)[:, None] * width + ranked
    return np.isin(cand, keys) & (ranked >= 0)


def _n_relevant(relevant: Sequence[set[int] | np.ndarray]) -> np.ndarray:
    return np.asarray([len(r) for r in relevant], dtype=np.float64)


def ndcg_at_k(ranked: np.ndarray, relevant: Sequence[set[int] | np.ndarray], k: int) -> np.ndarray:
    """(b,) NDCG@k per user."""
    hits = hits_matrix(np.asarray(ranked)[:, :k], relevant).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts[: hits.shape[1]]
    n_rel = np.minimum(_n_relevant(relevant), k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[n_rel]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def recall_at_k(ranked: np.ndarray, relevant: Sequence[set[int] | np.ndarray], k: int) -> np.ndarray:
    """(b,) Recall@k per user: hits / min(k, |held-out|)."""
    hits = hits_matrix(np.asarray(ranked)[:, :k], relevant).sum(axis=1).astype(np.float64)
    denom = np.minimum(_n_relevant(relevant), k)
    return np.divide(hits, denom, out=np.zeros_like(hits), where=denom > 0)


def map_at_k(ranked: np.ndarray, relevant: Sequence[set[int] | np.ndarray], k: int) -> np.ndarray:
    """(b,) average precision truncated at k, divided by min(k, |held-out|)."""
    hits = hits_matrix(np.asarray(ranked)[:, :k], relevant).astype(np.float64)
    ranks = np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    precision = np.cumsum(hits, axis=1) / ranks
    ap = (precision * hits).sum(axis=1)
    denom = np.minimum(_n_relevant(relevant), k)
    return np.divide(ap, denom, out=np.zeros_like(ap), where=denom > 0)


METRICS = ("ndcg@10", "recall@20", "recall@50", "map@500")
DEPTH = 500  # list length every metric needs


def all_metrics(ranked: np.ndarray, relevant: Sequence[set[int] | np.ndarray]) -> dict[str, float]:
    """Mean NDCG@10, Recall@20, Recall@50 and MAP@500 over users."""
    if len(relevant) == 0:
        return {m: 0.0 for m in METRICS}
    return {
        "ndcg@10": float(ndcg_at_k(ranked, relevant, 10).mean()),
        "recall@20": float(recall_at_k(ranked, relevant, 20).mean()),
        "recall@50": float(recall_at_k(ranked, relevant, 50).mean()),
        "map@500": float(map_at_k(ranked, relevant, 500).mean()),
    }
