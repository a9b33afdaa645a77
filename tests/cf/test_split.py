"""The Mult-VAE split protocol and the validation carve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from cf_service.core.data import from_frame, read_frame
from cf_service.core.split import protocol_split, validation_split

MSD = Path(__file__).resolve().parents[2] / "data" / "msd"


def test_protocol_reproduces_shipped_split() -> None:
    result = protocol_split(read_frame(MSD / "listens_10000_head.tsv"), seed=0)
    assert result.stats == json.loads((MSD / "split_10000_head" / "split_stats.json").read_text())
    ref = pd.read_csv(MSD / "split_10000_head" / "TEST.tsv", sep="\t")
    key = ["user_id", "song_id"]
    assert set(map(tuple, ref[key].to_numpy().tolist())) == set(map(tuple, result.test[key].to_numpy().tolist()))


def test_protocol_invariants() -> None:
    frame = read_frame(MSD / "listens_subset_users.tsv")
    res = protocol_split(frame, seed=3)
    train, test = res.train, res.test
    pairs_train = set(zip(train.user_id, train.song_id, strict=True))
    pairs_test = set(zip(test.user_id, test.song_id, strict=True))
    assert not pairs_train & pairs_test
    assert len(pairs_train) + len(pairs_test) == res.stats["after_user_filter"]["rows"]
    # every test user keeps listens in TRAIN and holds out max(1, int(0.2 n)) songs
    n_all = pd.concat([train, test]).groupby("user_id").size()
    held = test.groupby("user_id").size()
    assert (held == np.maximum(1, (0.2 * n_all[held.index]).astype(int))).all()
    assert set(held.index) <= set(train.user_id)
    assert len(held) == res.stats["n_test_users"] == int(0.2 * res.stats["after_user_filter"]["users"])
    assert (n_all >= 5).all()


def test_validation_split_never_leaks(toy: pd.DataFrame) -> None:
    inter = from_frame(read_frame(MSD / "split_10000_head" / "TRAIN.tsv"))
    vs = validation_split(inter, seed=0, user_frac=0.2)
    assert len(vs.users) > 100
    for u, rel in zip(vs.users[:50], vs.relevant[:50], strict=True):
        assert not set(vs.train.counts[u].indices) & set(rel.tolist())
        assert len(rel) >= 1
    assert vs.train.nnz < inter.nnz
    assert (vs.train.song_listeners() > 0).all()
