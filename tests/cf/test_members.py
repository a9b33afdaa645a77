"""Each member on a block-structured toy where the right answer is obvious."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cf_service.core.data import from_frame, to_trainset
from cf_service.core.members import ALS, EASE, ItemKNN, Member, Popularity
from surprise import Dataset, Reader

MEMBERS = {
    "itemknn": lambda: ItemKNN(alpha=0.5, q=1.0, k=20, user_damping=0.25),
    "ease": lambda: EASE(lam=1.0, max_items=100),
    "als": lambda: ALS(factors=4, regularization=0.1, iterations=20, transform="log1p", alpha=2.0, num_threads=1),
}


@pytest.mark.parametrize("name", list(MEMBERS))
def test_member_recommends_the_missing_block_song(name: str, toy: pd.DataFrame) -> None:
    model = MEMBERS[name]().fit(toy)
    rock = model.recommend("rock0", n=3)
    jazz = model.recommend("jazz0", n=3)
    assert rock.fallback is None and rock.items[0].song_id == "R5"
    assert jazz.items[0].song_id == "J5"
    # seen songs are excluded
    assert not set(rock.song_ids) & {"R0", "R1", "R2", "R3", "R4"}


@pytest.mark.parametrize("name", list(MEMBERS))
def test_member_fits_through_surprise_trainset(name: str, toy: pd.DataFrame) -> None:
    data = Dataset.load_from_df(toy[["user_id", "song_id", "play_count"]], Reader(rating_scale=(1, 9)))
    trainset = data.build_full_trainset()
    model = MEMBERS[name]().fit(trainset)
    assert model.trainset is trainset
    assert model.recommend("rock0", n=1).song_ids == ["R5"]
    # estimate(u, i) agrees with the vectorised scores
    u, i = trainset.to_inner_uid("rock0"), trainset.to_inner_iid("R5")
    inner_u = model._require().user_index["rock0"]
    inner_i = model._require().song_index["R5"]
    assert model.estimate(u, i) == pytest.approx(float(model.score_users(np.array([inner_u]))[0, inner_i]), rel=1e-4)
    pred = model.predict("rock0", "R5", clip=False)
    assert not pred.details["was_impossible"]


@pytest.mark.parametrize("name", list(MEMBERS))
def test_fold_in_matches_known_user(name: str, toy: pd.DataFrame) -> None:
    model = MEMBERS[name]().fit(toy)
    history = [(s, c) for s, c in toy.loc[toy.user_id == "rock0", ["song_id", "play_count"]].itertuples(index=False)]
    folded = model.recommend_for_history(history, n=3)
    known = model.recommend("rock0", n=3)
    assert folded.fallback is None
    assert folded.song_ids[0] == known.song_ids[0] == "R5"


def test_unknown_user_and_song_fall_back_to_popularity(toy: pd.DataFrame) -> None:
    model: Member = ItemKNN().fit(toy)
    res = model.recommend("nobody", n=5)
    assert res.fallback == "popular" and res.user_id == "nobody" and len(res.items) == 5
    assert res.song_ids == Popularity().fit(toy).recommend("x", n=5).song_ids
    batch = model.recommend(["rock0", "nobody"], n=2)
    assert [r.fallback for r in batch] == [None, "popular"]
    assert model.similar_items("SO_UNKNOWN", n=3).fallback == "popular"
    empty = model.recommend_for_history([("SO_UNKNOWN", 3)], n=3)
    assert empty.fallback == "popular" and empty.unknown_songs == 1


def test_similar_items_stay_in_block(toy: pd.DataFrame) -> None:
    for make in MEMBERS.values():
        sims = make().fit(toy).similar_items("R1", n=3)
        assert sims.fallback is None
        assert all(s.startswith("R") for s in sims.song_ids), sims


def test_ease_cap_bounds_the_catalogue(toy: pd.DataFrame) -> None:
    model = EASE(lam=1.0, max_items=4).fit(toy)
    assert model.B is not None and model.B.shape == (4, 4)
    scores = model.score_users(np.arange(model._require().n_users))
    assert np.isinf(scores).sum(axis=1).tolist() == [model._require().n_songs - 4] * model._require().n_users


def test_knn_keeps_top_k_neighbours(toy: pd.DataFrame) -> None:
    model = ItemKNN(k=2).fit(toy)
    assert model.N is not None
    assert np.diff(model.N.indptr).max() <= 2


def test_als_fold_in_reproduces_training_user_vector(toy: pd.DataFrame) -> None:
    model = ALS(factors=4, regularization=0.1, iterations=30, transform="log1p", num_threads=1).fit(toy)
    inter = model._require()
    u = inter.user_index["rock3"]
    assert model.X is not None
    folded = model.fold_in(model.X[[u]])[0]
    assert model.user_factors is not None
    # the user step of ALS after convergence: the same normal equations
    np.testing.assert_allclose(folded, model.user_factors[u], rtol=0.05, atol=0.02)


def test_interactions_trainset_bridge(toy: pd.DataFrame) -> None:
    inter = from_frame(toy)
    ts = to_trainset(inter)
    assert ts.n_users == inter.n_users and ts.n_items == inter.n_songs and ts.n_ratings == len(toy)
    assert ts.to_inner_uid("rock0") == inter.user_index["rock0"]


def test_knn_cooccurrence_cache_is_not_corrupted(toy: pd.DataFrame) -> None:
    first = ItemKNN(alpha=0.3, q=2.0, k=3).fit(toy)
    ItemKNN(alpha=0.7, q=1.0, k=2).fit(toy)  # reuses (and must not edit) the cached co-occurrence
    again = ItemKNN(alpha=0.3, q=2.0, k=3).fit(toy)
    assert first.N is not None and again.N is not None
    assert (first.N != again.N).nnz == 0


def test_isolated_songs_and_single_song_users() -> None:
    frame = pd.DataFrame(
        {"user_id": ["a", "a", "b", "b", "c"], "song_id": ["x", "y", "x", "y", "z"], "play_count": [1, 2, 3, 1, 1]}
    )
    for make in MEMBERS.values():
        model = make().fit(frame)
        assert model.recommend("a", 2).song_ids == ["z"]  # the only unseen song
        res = model.recommend("c", 2)
        assert res.fallback is None and set(res.song_ids) == {"x", "y"}
