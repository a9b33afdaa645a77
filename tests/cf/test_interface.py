"""Every registered model, and the vote, is a `Recommender` that survives save/load unchanged."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cf_service.core.base import Recommender
from cf_service.core.members import REGISTRY, Member, load_member, member_class
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.tuning import SEARCH
from cf_service.core.vote import RankFusionVote, build_vote
from surprise import AlgoBase

SMALL = {"itemknn": {"k": 5}, "ease": {"lam": 5.0}, "als": {"factors": 4, "iterations": 3}, "popularity": {}}


def _lists(model: Recommender) -> tuple[list[list[str]], list[str], list[str], list[str]]:
    """What a service sees: lists for known users, a fold-in, similar songs and popular songs (raw ids)."""
    users = [r.song_ids for r in model.recommend(["rock0", "jazz0", "nobody"], n=4)]
    fold = model.recommend_for_history([("R0", 3), ("R1", 1)], n=4).song_ids
    similar = [s.song_id for s in model.similar_items("R0", n=3).items]
    return users, fold, similar, model.popular(3).song_ids


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_model_is_a_recommender_and_round_trips(name: str, toy: pd.DataFrame, tmp_path: Path) -> None:
    cls = REGISTRY[name]
    assert cls.name == name and member_class(cls.__name__) is cls
    assert issubclass(cls, Recommender) and issubclass(cls, AlgoBase) and not inspect.isabstract(cls)
    model = cls(**SMALL[name]).fit(toy)
    before = _lists(model)
    assert before[0][0] and before[1] and before[3]
    model.save(tmp_path / name)
    loaded = load_member(tmp_path / name)
    assert type(loaded) is cls and loaded.get_params() == model.get_params()
    assert _lists(loaded) == before
    again = cls.load(tmp_path / name)
    assert _lists(again) == before


def test_the_vote_holds_its_members_and_round_trips(toy: pd.DataFrame, tmp_path: Path) -> None:
    vote = build_vote({"members": {k: v for k, v in SMALL.items() if k != "popularity"}}).fit(toy)
    assert isinstance(vote, Recommender) and isinstance(vote, AlgoBase) and not isinstance(vote, Member)
    assert not hasattr(vote, "X") and not hasattr(vote, "transform")  # no member state it never uses
    assert set(vote.members) == set(DEFAULT_PARAMS["members"]) and all(
        isinstance(m, Member) for m in vote.members.values()
    )
    before = _lists(vote)
    vote.save(tmp_path / "vote")
    loaded = RankFusionVote.load(tmp_path / "vote")
    assert _lists(loaded) == before
    assert loaded.weights == vote.weights and loaded.rrf_k == vote.rrf_k
    idx, scores, ranks = loaded.fused(np.asarray([0, 1]), None, 4)
    assert idx.shape == scores.shape == (2, 4) and set(ranks) == set(vote.members)


def test_the_tuning_searches_what_each_member_declares() -> None:
    assert set(SEARCH) == set(DEFAULT_PARAMS["members"])
    for name, space in SEARCH.items():
        params = REGISTRY[name]().get_params()
        assert space and all(p in params for p, _, _ in space), name


def _within_models(toy: pd.DataFrame) -> list[Recommender]:
    members: list[Recommender] = [REGISTRY[name](**SMALL[name]).fit(toy) for name in sorted(REGISTRY)]
    return [*members, build_vote({"members": {k: v for k, v in SMALL.items() if k != "popularity"}}).fit(toy)]


def test_lists_can_be_restricted_to_a_set_of_songs(toy: pd.DataFrame) -> None:
    """A listener's playable songs (their music library): every list stays inside them, best first."""
    playable = ["R2", "R5", "J1", "UNKNOWN"]
    for model in _within_models(toy):
        free = model.recommend_for_history([("R0", 3), ("R1", 1)], n=8).song_ids
        inside = model.recommend_for_history([("R0", 3), ("R1", 1)], n=8, within=playable).song_ids
        assert inside and set(inside) <= set(playable) - {"UNKNOWN"}, (model.name, inside)
        # The best allowed song of the free list stays in the restricted one.
        first = next((s for s in free if s in playable), None)
        assert first is None or first in inside, (model.name, free, inside)
        assert set(model.recommend_for_history([], n=5, within=playable).song_ids) <= set(playable)
        similar = [s.song_id for s in model.similar_items("R0", n=5, within=playable).items]
        assert set(similar) <= set(playable), (model.name, similar)
        assert set(model.popular(5, within=playable).song_ids) <= set(playable)
        assert model.recommend_for_history([("R0", 3)], n=5, within=[]).song_ids == []
