"""Evaluation pipeline: TEST never reaches a fit; the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cf_service import cli
from cf_service.core import evaluate as evaluate_mod
from cf_service.core.baselines.seedvote import SeedVote
from cf_service.core.data import Interactions, as_interactions
from cf_service.core.members import Member

TINY_SEARCH: dict[str, list[tuple[str, list[Any], bool]]] = {
    "itemknn": [("alpha", [0.15, 0.5], True), ("transform", [{"kind": "binary"}, {"kind": "log1p"}], False)],
    "ease": [("lam", [10.0, 25.0, 50.0], True)],
    "als": [("factors", [16, 32], True)],
}


def _pairs(inter: Interactions) -> set[tuple[str, str]]:
    coo = inter.counts.tocoo()
    return set(zip(inter.users[coo.row].tolist(), inter.songs[coo.col].tolist(), strict=True))


def test_no_test_row_reaches_any_fit(small_split: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    train_path, test_path = small_split
    seen: list[Interactions] = []
    member_fit, seed_fit = Member.fit, SeedVote.fit

    def spy_member(self: Member, data: Any) -> Member:
        seen.append(as_interactions(data))
        return member_fit(self, data)

    def spy_seed(self: SeedVote, data: Any) -> SeedVote:
        seen.append(as_interactions(data))
        return seed_fit(self, data)

    monkeypatch.setattr(Member, "fit", spy_member)
    monkeypatch.setattr(SeedVote, "fit", spy_seed)
    result = evaluate_mod.evaluate(
        train_path,
        test_path,
        tune_kwargs={
            "search": TINY_SEARCH,
            "vote_carves": 2,
            "max_items": 300,
            "overrides": {"als": {"iterations": 5, "num_threads": 1}},
        },
        params=None,
    )
    test = pd.read_csv(test_path, sep="\t")
    train = pd.read_csv(train_path, sep="\t")
    test_pairs = set(zip(test.user_id, test.song_id, strict=True))
    train_pairs = set(zip(train.user_id, train.song_id, strict=True))
    assert len(seen) > 10  # validation fits, final fits, references, seed-vote
    for inter in seen:
        got = _pairs(inter)
        assert not got & test_pairs
        assert got <= train_pairs
    assert any(_pairs(inter) == train_pairs for inter in seen)  # the final models saw all of TRAIN
    # evaluated users: in TRAIN, with at least one held-out song that TRAIN knows
    train_users, train_songs = set(train.user_id), set(train.song_id)
    assert result["n_users"] == len({u for u, s in test_pairs if u in train_users and s in train_songs})
    assert result["protocol"]["rows_song_not_in_train"] == int((~test.song_id.isin(train_songs)).sum())
    for name in ("vote", "member-itemknn", "member-ease", "member-als", "popularity", "ease", "seed-vote"):
        assert set(result["models"][name]) >= {"ndcg@10", "recall@20", "recall@50", "map@500", "fit_s", "score_s"}


def test_evaluate_cli_contract(small_split: tuple[Path, Path], tmp_path: Path) -> None:
    train_path, test_path = small_split
    out = tmp_path / "eval.json"
    report = tmp_path / "report" / "REPORT.md"
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps(
            {
                "params": {
                    "weights": {"itemknn": 1.0, "ease": 1.0, "als": 1.0},
                    "rrf_k": 5.0,
                    "members": {"ease": {"lam": 25.0, "max_items": 400}, "als": {"factors": 16, "iterations": 5}},
                }
            }
        )
    )
    code = cli.main(
        [
            "evaluate",
            "--train",
            str(train_path),
            "--test",
            str(test_path),
            "--json",
            str(out),
            "--report",
            str(report),
            "--no-tune",
            "--params",
            str(params),
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["n_users"] > 50
    models = result["models"]
    assert {"vote", "popularity", "ease", "seed-vote"} <= set(models)
    for m in models.values():
        for key in ("ndcg@10", "recall@20", "recall@50", "map@500"):
            assert 0.0 <= m[key] <= 1.0
    assert models["vote"]["ndcg@10"] > models["popularity"]["ndcg@10"]
    assert report.exists() and report.with_suffix(".png").exists()
    assert "| vote |" in report.read_text()
