"""The vote: per-member ranks, reasons, persistence, fold-in, fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cf_service.core.members import ALS, EASE, ItemKNN
from cf_service.core.vote import RankFusionVote, build_vote, fuse_lists


def small_vote() -> RankFusionVote:
    members = {
        "itemknn": ItemKNN(alpha=0.5, q=1.0, k=20, user_damping=0.25),
        "ease": EASE(lam=1.0, max_items=100),
        "als": ALS(factors=4, regularization=0.1, iterations=20, transform="log1p", alpha=2.0, num_threads=1),
    }
    return RankFusionVote(members, {"itemknn": 1.0, "ease": 1.0, "als": 0.5}, rrf_k=5.0, depth=20)


def test_fuse_lists_hand_computed() -> None:
    lists = {"a": np.array([[3, 1, -1]]), "b": np.array([[1, 2, 3]])}
    idx, scores, ranks = fuse_lists(lists, {"a": 1.0, "b": 2.0}, 1.0, 5, 4)
    expect = {3: 1 / 2 + 2 / 4, 1: 1 / 3 + 2 / 2, 2: 2 / 3}
    assert idx[0].tolist()[:3] == [1, 3, 2] and idx[0, 3] == -1
    assert scores[0, :3] == pytest.approx([expect[1], expect[3], expect[2]])
    assert ranks["a"][0].tolist()[:3] == [2, 1, 0] and ranks["b"][0].tolist()[:3] == [1, 3, 2]


def test_vote_keeps_member_ranks_and_reasons(toy: pd.DataFrame) -> None:
    vote = small_vote().fit(toy)
    res = vote.recommend("rock0", n=3)
    assert res.fallback is None and res.items[0].song_id == "R5"
    top = res.items[0]
    assert set(top.member_ranks) == {"itemknn", "ease", "als"}
    assert all(r is None or r >= 1 for r in top.member_ranks.values())
    assert top.member_ranks["itemknn"] == 1 and top.member_ranks["ease"] == 1
    assert 1 <= len(top.because) <= 3
    history = set(toy.loc[toy.user_id == "rock0", "song_id"])
    assert all(b.song_id in history and 0 < b.share <= 1 for b in top.because)
    # a song a member did not list reports None for that member: here ALS lists only one song
    original = vote.member_lists

    def als_lists_one(*args: object, **kwargs: object) -> dict[str, np.ndarray]:
        lists = original(*args, **kwargs)  # type: ignore[arg-type]
        lists["als"] = lists["als"].copy()
        lists["als"][:, 1:] = -1
        return lists

    vote.member_lists = als_lists_one  # type: ignore[method-assign]
    deep = vote.recommend("rock0", n=5)
    assert sum(it.member_ranks["als"] is None for it in deep.items) == len(deep.items) - 1
    assert deep.items[0].member_ranks["als"] == 1


def test_vote_is_at_least_a_fusion_of_its_members(toy: pd.DataFrame) -> None:
    vote = small_vote().fit(toy)
    inter = vote._require()
    users = np.arange(inter.n_users)
    idx, scores = vote.top_n_users(users, 5)
    lists = vote.member_lists(users, None, 20)
    ref, _, _ = fuse_lists(lists, vote.weights, vote.rrf_k, inter.n_songs, 5)
    assert np.array_equal(np.where(np.isfinite(scores), idx, -1), ref)


def test_save_load_round_trip(toy: pd.DataFrame, tmp_path: Path) -> None:
    vote = small_vote().fit(toy)
    vote.save(tmp_path / "m")
    again = RankFusionVote.load(tmp_path / "m")
    for user in ("rock0", "jazz0", "rock5", "nobody"):
        a, b = vote.recommend(user, n=8), again.recommend(user, n=8)
        assert a.to_dict() == b.to_dict()
    hist = [("R0", 3), ("R2", 1)]
    assert vote.recommend_for_history(hist, 5).to_dict() == again.recommend_for_history(hist, 5).to_dict()
    assert vote.similar_items("R1", 4).to_dict() == again.similar_items("R1", 4).to_dict()
    # only safe formats on disk, and id arrays are unicode
    suffixes = {p.suffix for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert suffixes <= {".npz", ".json"}
    with np.load(tmp_path / "m" / "interactions.npz", allow_pickle=False) as z:
        assert z["users"].dtype.kind == "U" and z["songs"].dtype.kind == "U"
    json.loads((tmp_path / "m" / "vote.json").read_text())


def test_fold_in_matches_known_user(toy: pd.DataFrame) -> None:
    vote = small_vote().fit(toy)
    for user in ("rock0", "jazz3"):
        history = list(toy.loc[toy.user_id == user, ["song_id", "play_count"]].itertuples(index=False, name=None))
        folded = vote.recommend_for_history(history, n=5)
        known = vote.recommend(user, n=5)
        assert folded.fallback is None
        assert folded.song_ids[:2] == known.song_ids[:2]
        assert len(set(folded.song_ids) & set(known.song_ids)) >= 4


def test_unknown_user_gets_flagged_popularity(toy: pd.DataFrame) -> None:
    vote = small_vote().fit(toy)
    res = vote.recommend("stranger", n=4)
    assert res.fallback == "popular" and res.user_id == "stranger" and len(res.items) == 4
    assert [r.fallback for r in vote.recommend(["rock0", "stranger"], n=2)] == [None, "popular"]
    assert vote.recommend_for_history([], n=3).fallback == "popular"
    assert vote.popular(3).fallback == "popular"


def test_similar_items_of_vote(toy: pd.DataFrame) -> None:
    vote = small_vote().fit(toy)
    sims = vote.similar_items("J2", n=3)
    assert sims.fallback is None and all(s.startswith("J") for s in sims.song_ids)
    idx, _ = vote.neighbours(3)
    assert idx.shape == (vote._require().n_songs, 3)


def test_build_vote_from_params() -> None:
    vote = build_vote(
        {
            "weights": {"itemknn": 2.0, "ease": 1.0, "als": 0.0},
            "rrf_k": 7.0,
            "members": {"ease": {"lam": 3.0, "max_items": 50}},
        }
    )
    assert vote.weights == {"itemknn": 2.0, "ease": 1.0, "als": 0.0} and vote.rrf_k == 7.0
    ease = vote.members["ease"]
    assert isinstance(ease, EASE) and ease.lam == 3.0 and ease.max_items == 50
