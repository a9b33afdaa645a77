"""The scoring paths whose cost grows with the data, not with users x songs, give the lists the dense paths give.

Each fast path (the vote's fusion over candidates, item-kNN's sparse product, EASE's and ALS's song blocks,
item-kNN's fit in bounded blocks) is compared with the dense computation it replaces, on real listens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from cf_service.core.members import ALS, EASE, ItemKNN, Member
from cf_service.core.members import itemknn as itemknn_module
from cf_service.core.precompute import active_users, precompute
from cf_service.core.ranking import top_n
from cf_service.core.vote import build_vote, fuse_lists

from tests.cf.conftest import MSD


def dense_fuse(lists: dict[str, np.ndarray], weights: dict[str, float], rrf_k: float, n_items: int, n: int):
    """The dense reference: a (b, n_items) float32 array summed member by member."""
    b = next(iter(lists.values())).shape[0]
    fused = np.zeros((b, n_items), np.float32)
    for name, idx in lists.items():
        w = float(weights.get(name, 0.0))
        if w <= 0:
            continue
        contrib = (w / (rrf_k + np.arange(1, idx.shape[1] + 1, dtype=np.float64))).astype(np.float32)
        r, c = np.nonzero(idx >= 0)
        fused[r, idx[r, c]] += contrib[c]
    fused[fused <= 0] = -np.inf
    out_idx, out_scores = top_n(fused, n)
    return np.where(np.isfinite(out_scores), out_idx, -1), out_scores


def random_lists(rng: np.random.Generator, b: int, n_items: int, depth: int) -> np.ndarray:
    out = np.full((b, depth), -1, np.int64)
    for r in range(b):
        length = int(rng.integers(0, depth + 1))
        out[r, :length] = rng.choice(n_items, length, replace=False)
    return out


def test_fusion_over_candidates_equals_the_dense_fusion() -> None:
    rng = np.random.default_rng(3)
    b, n_items = 40, 300
    lists = {name: random_lists(rng, b, n_items, d) for name, d in (("a", 50), ("b", 80), ("c", 30), ("z", 20))}
    weights = {"a": 1.0, "b": 0.5, "c": 0.7, "z": 0.0}  # z: weight 0 still reports its ranks
    idx, scores, ranks = fuse_lists(lists, weights, 5.0, n_items, 60)
    ref_idx, ref_scores = dense_fuse(lists, weights, 5.0, n_items, 60)
    assert np.array_equal(np.isfinite(scores), np.isfinite(ref_scores))
    assert np.array_equal(scores[np.isfinite(scores)], ref_scores[np.isfinite(ref_scores)])
    # The dense cut (argpartition) picks any of the songs tied at the n-th score; the candidates' cut the lowest id.
    for r in range(b):
        last = scores[r, -1]
        above = scores[r] > last if np.isfinite(last) else np.isfinite(scores[r])
        assert np.array_equal(idx[r][above], ref_idx[r][above])
    for name, member_idx in lists.items():
        for r in range(b):
            where = {int(s): k + 1 for k, s in enumerate(member_idx[r]) if s >= 0}
            expect = [where.get(int(s), 0) if s >= 0 else 0 for s in idx[r]]
            assert ranks[name][r].tolist() == expect
    bare_idx, bare_scores, bare_ranks = fuse_lists(lists, weights, 5.0, n_items, 60, with_ranks=False)
    assert np.array_equal(bare_idx, idx) and np.array_equal(bare_scores, scores) and not bare_ranks
    empty = np.flatnonzero((np.stack([v[:, 0] for k, v in lists.items() if k != "z"]) < 0).all(axis=0))
    assert all((idx[r] == -1).all() for r in empty)


@pytest.fixture(scope="module")
def listens() -> pd.DataFrame:
    frame = pd.read_csv(MSD / "split_10000_head" / "TRAIN.tsv", sep="\t")
    return frame[frame["user_id"].isin(frame["user_id"].unique()[:600])]


def dense_top(member: Member, users: np.ndarray, n: int, within: np.ndarray | None = None):
    assert member.X is not None
    prefs = member.X[users]
    return Member._finish(member, member._score_prefs(prefs, users), prefs, n, within)


@pytest.mark.parametrize(
    "make", [lambda: EASE(lam=25.0, max_items=800), lambda: ALS(factors=16, iterations=5, num_threads=1, max_items=700)]
)
def test_block_members_list_what_the_dense_scores_list(listens: pd.DataFrame, make) -> None:
    member = make().fit(listens)
    inter = member.interactions
    users = np.arange(0, inter.n_users, 7)
    within = np.random.default_rng(1).random(inter.n_songs) < 0.5
    for given in (None, within):
        mask = given
        if isinstance(member, ALS):
            # The dense reference scores only the capped block too: the cap is the member's definition.
            cols, _, _ = member.block
            assert len(cols) == 700 and member.popularity is not None
            assert member.popularity[cols].min() >= np.sort(member.popularity)[-700]
            keep = np.zeros(inter.n_songs, bool)
            keep[cols] = True
            mask = keep if mask is None else keep & mask
        assert member.X is not None
        prefs = member.X[users]
        fast_i, fast_v = member.top_n_rows(prefs, users, prefs, 50, given)
        ref_i, ref_v = dense_top(member, users, 50, mask)
        assert np.array_equal(np.isfinite(fast_v), np.isfinite(ref_v))
        assert np.allclose(fast_v[np.isfinite(fast_v)], ref_v[np.isfinite(ref_v)], rtol=1e-5, atol=1e-6)
        assert (fast_i == ref_i)[np.isfinite(fast_v)].mean() > 0.99  # equal scores may swap places


def test_itemknn_sparse_product_lists_the_songs_with_evidence_first(listens: pd.DataFrame) -> None:
    member = ItemKNN(alpha=0.15, q=2.0, k=50, user_damping=0.25).fit(listens)
    inter = member.interactions
    users = np.arange(inter.n_users)
    fast_i, fast_v = member.top_n_users(users, 100)
    ref_i, ref_v = dense_top(member, users, 100)
    assert member.X is not None
    for r in range(0, inter.n_users, 5):
        positive = ref_v[r] > 0
        k = int(positive.sum())
        assert np.allclose(fast_v[r, :k], ref_v[r, :k], rtol=1e-5)
        above = ref_v[r, :k] > ref_v[r, k - 1] if k else np.zeros(0, bool)  # songs tied at the cut may differ
        assert set(fast_i[r, :k][above].tolist()) == set(ref_i[r, :k][above].tolist())
        seen = set(member.X[r].indices.tolist())
        assert not seen & set(fast_i[r][np.isfinite(fast_v[r])].tolist())
        if k < 100:  # no evidence: popular songs, most listened first
            rest = fast_i[r, k:][np.isfinite(fast_v[r, k:])]
            assert member.popularity is not None
            assert np.all(np.diff(member.popularity[rest]) <= 0)


def test_itemknn_fit_in_bounded_blocks_equals_one_block(listens: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = ItemKNN(alpha=0.3, q=3.0, k=30, user_damping=0.5).fit(listens)
    monkeypatch.setattr(itemknn_module, "COOC_CACHE_MAX_NNZ", 0)  # never one cached product
    monkeypatch.setattr(itemknn_module, "BLOCK_PAIRS", 50_000)
    itemknn_module._COOC_CACHE.clear()
    parts = ItemKNN(alpha=0.3, q=3.0, k=30, user_damping=0.5)
    assert parts.fit(listens).N is not None and whole.N is not None
    assert len(parts.blocks(parts.X)) > 10
    a, b = whole.N.tocsr(), parts.N.tocsr()
    assert a.shape == b.shape and a.nnz == b.nnz
    assert np.array_equal(a.indptr, b.indptr)
    assert abs(a - b).max() <= 1e-5 * max(float(a.max()), 1.0)
    assert b.indices.dtype == np.int32 and b.data.dtype == np.float32
    assert isinstance(b, sp.csr_matrix)


def read_lists(path) -> dict[str, list[str]]:
    out = {}
    with open(path) as handle:
        for line in handle:
            rec = json.loads(line)
            if rec["type"] == "user":
                out[rec["user_id"]] = rec["songs"]
    return out


def test_a_listener_without_a_precomputed_list_gets_the_list_precompute_would_have_written(tmp_path: Path) -> None:
    vote = build_vote().fit(pd.read_csv(MSD / "split_10000_head" / "TRAIN.tsv", sep="\t"))
    inter = vote.interactions
    every = precompute(vote, tmp_path / "all.jsonl", workers=2)
    assert every["users"] == inter.n_users and every["songs"] == inter.n_songs
    ids = [str(u) for u in inter.users]
    active = ids[::10]
    some = precompute(vote, tmp_path / "active.jsonl", users=active_users(vote, [*active, "not-a-user"]), workers=1)
    full, part = read_lists(tmp_path / "all.jsonl"), read_lists(tmp_path / "active.jsonl")
    assert some["users"] == len(active) and set(part) == set(active)
    assert all(part[u] == full[u] for u in active)  # the same lines whatever the workers
    outside = [u for u in ids if u not in part][::25]
    assert len(outside) > 40
    for user, rec in zip(outside, vote.recommend(outside, 100), strict=True):
        assert rec.fallback is None
        assert rec.song_ids[:10] == full[user][:10]
        assert rec.song_ids == full[user]
