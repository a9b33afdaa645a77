"""Fixtures of the cf_service tests: a block-structured toy and small real samples."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
MSD = REPO / "data" / "msd"


def block_frame() -> pd.DataFrame:
    """Two taste blocks: rock users play R0..R5, jazz users J0..J5.

    ``rock0`` has not played R5 yet and ``jazz0`` has not played J5: in each
    case every other user of the block has, so that is the obvious next song.
    Play counts vary so every transform has something to weigh.
    """
    rows = []
    for block, prefix in (("rock", "R"), ("jazz", "J")):
        for u in range(8):
            for s in range(6):
                if u == 0 and s == 5:
                    continue
                if u >= 2 and (u + s) % 5 == 0 and s != 5:
                    continue  # some holes so neighbours are not all identical
                rows.append((f"{block}{u}", f"{prefix}{s}", 1 + (u * 7 + s * 3) % 9))
    # one cross-over listen so the two blocks are not fully disconnected
    rows.append(("rock7", "J0", 1))
    return pd.DataFrame(rows, columns=["user_id", "song_id", "play_count"])


@pytest.fixture
def toy() -> pd.DataFrame:
    return block_frame()


@pytest.fixture(scope="session")
def small_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 400-user subsample of the shipped development split (TRAIN.tsv, TEST.tsv)."""
    train = pd.read_csv(MSD / "split_10000_head" / "TRAIN.tsv", sep="\t")
    test = pd.read_csv(MSD / "split_10000_head" / "TEST.tsv", sep="\t")
    rng = np.random.default_rng(0)
    test_users = rng.choice(test["user_id"].unique(), 80, replace=False)
    others = np.setdiff1d(train["user_id"].unique(), test["user_id"].unique())
    keep = set(test_users) | set(rng.choice(others, 320, replace=False))
    out = tmp_path_factory.mktemp("small_split")
    train[train["user_id"].isin(keep)].to_csv(out / "TRAIN.tsv", sep="\t", index=False)
    test[test["user_id"].isin(test_users)].to_csv(out / "TEST.tsv", sep="\t", index=False)
    return out / "TRAIN.tsv", out / "TEST.tsv"
