"""Train / test splits following Liang et al. (Mult-VAE, WWW 2018) for the MSD.

Protocol (:func:`protocol_split`):

1. duplicate ``(user, song)`` rows are merged (play counts summed);
2. songs with fewer than ``min_song_users`` (2) listeners are dropped, then
   users with fewer than ``min_user_songs`` (5) songs (one pass each, so a few
   songs may be left with one listener, as in the reference split);
3. users sorted by id; ``RandomState(seed).permutation`` picks
   ``int(test_frac * n_users)`` test users (the first of the permutation);
4. for each test user (sorted by id) the same generator draws
   ``max(1, int(holdout_frac * n_songs))`` of their songs (sorted by id)
   without replacement into TEST; everything else is TRAIN.

With seed 0 this reproduces ``data/msd/split_10000_head`` row for row.

:func:`validation_split` carves a validation set out of a training matrix the
same way (a random subset of users, a fraction of their songs held out), so
hyper-parameters are chosen without ever reading TEST.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cf_service.core.data import Interactions


@dataclass
class SplitResult:
    train: pd.DataFrame
    test: pd.DataFrame
    stats: dict[str, Any]


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(frame), "users": int(frame["user_id"].nunique()), "songs": int(frame["song_id"].nunique())}


def protocol_split(
    frame: pd.DataFrame,
    seed: int = 0,
    test_frac: float = 0.2,
    holdout_frac: float = 0.2,
    min_song_users: int = 2,
    min_user_songs: int = 5,
) -> SplitResult:
    """Split a ``user_id, song_id, play_count`` frame; returns frames + ``split_stats.json`` dict."""
    frame = frame.loc[:, ["user_id", "song_id", "play_count"]].astype(
        {"user_id": str, "song_id": str, "play_count": np.int64}
    )
    stats: dict[str, Any] = {"raw": _counts(frame)}
    merged = frame.groupby(["user_id", "song_id"], sort=False, as_index=False)["play_count"].sum()
    stats["duplicate_pairs_merged"] = int(len(frame) - len(merged))

    listeners = merged.groupby("song_id")["user_id"].transform("size")
    kept = merged[listeners >= min_song_users]
    stats["after_song_filter"] = _counts(kept)
    n_songs_u = kept.groupby("user_id")["song_id"].transform("size")
    kept = kept[n_songs_u >= min_user_songs]
    stats["after_user_filter"] = _counts(kept)
    per_song = kept.groupby("song_id").size()
    stats["songs_with_1_listener_after_user_filter"] = int((per_song == 1).sum())

    kept = kept.sort_values(["user_id", "song_id"], kind="mergesort").reset_index(drop=True)
    users = np.sort(kept["user_id"].unique().astype(str))
    rng = np.random.RandomState(seed)
    n_test = int(test_frac * len(users))
    test_users = np.sort(users[rng.permutation(len(users))[:n_test]])

    user_col = kept["user_id"].to_numpy(dtype=str)
    starts = np.searchsorted(user_col, test_users, side="left")
    ends = np.searchsorted(user_col, test_users, side="right")
    held = np.zeros(len(kept), dtype=bool)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        n = hi - lo
        k = max(1, int(holdout_frac * n))
        held[lo + rng.choice(n, size=k, replace=False)] = True

    train = kept[~held].reset_index(drop=True)
    test = kept[held].reset_index(drop=True)
    train_songs = set(train["song_id"].tolist())
    test_in_train = test["song_id"].isin(train_songs)
    per_user_ok = test_in_train.groupby(test["user_id"]).any()

    stats.update(
        {
            "seed": int(seed),
            "n_test_users": int(n_test),
            "n_nontest_users": int(len(users) - n_test),
            "train": _counts(train),
            "test": _counts(test),
            "test_rows_song_not_in_train": int((~test_in_train).sum()),
            "test_users_all_heldout_songs_not_in_train": int((~per_user_ok).sum()),
        }
    )
    return SplitResult(train=train, test=test, stats=stats)


@dataclass
class ValidationSplit:
    """A validation carve of a training matrix.

    Attributes:
        train: Interactions of the remaining rows, restricted to songs that still
            have a listener (the catalogue a model trained on it can rank).
        users: (v,) inner user ids (of ``train``) of the validation users.
        relevant: v arrays of held-out inner song ids (songs absent from
            ``train`` dropped, users left with none removed).
        song_map: (n_songs_original,) new inner id of each original song, -1 if dropped.
    """

    train: Interactions
    users: np.ndarray
    relevant: list[np.ndarray]
    song_map: np.ndarray


def validation_split(
    inter: Interactions,
    seed: int = 0,
    user_frac: float = 0.2,
    holdout_frac: float = 0.2,
    min_user_songs: int = 5,
    max_users: int | None = None,
) -> ValidationSplit:
    """Hold out ``holdout_frac`` of the songs of a random ``user_frac`` of eligible users.

    Eligible users have at least ``min_user_songs`` songs, as test users do.
    """
    counts = inter.counts.tocsr()
    lengths = np.diff(counts.indptr)
    eligible = np.flatnonzero(lengths >= min_user_songs)
    rng = np.random.RandomState(seed)
    n_val = max(1, round(user_frac * len(eligible))) if len(eligible) else 0
    if max_users is not None:
        n_val = min(n_val, max_users)
    chosen = np.sort(eligible[rng.permutation(len(eligible))[:n_val]])

    keep = np.ones(counts.nnz, dtype=bool)
    held_rows: list[np.ndarray] = []
    for u in chosen.tolist():
        lo, hi = counts.indptr[u], counts.indptr[u + 1]
        n = hi - lo
        pick = lo + rng.choice(n, size=max(1, int(holdout_frac * n)), replace=False)
        keep[pick] = False
        held_rows.append(np.sort(counts.indices[pick]).astype(np.int64))

    rows = np.repeat(np.arange(counts.shape[0]), lengths)
    part = sp.csr_matrix((counts.data[keep], (rows[keep], counts.indices[keep])), shape=counts.shape)
    has_listener = np.bincount(part.indices, minlength=counts.shape[1]) > 0
    song_map = np.full(counts.shape[1], -1, np.int64)
    song_map[has_listener] = np.arange(int(has_listener.sum()))
    train = Interactions(inter.users, inter.songs[has_listener], part[:, has_listener])

    users, relevant = [], []
    for u, held in zip(chosen.tolist(), held_rows, strict=True):
        mapped = song_map[held]
        mapped = mapped[mapped >= 0]
        if len(mapped):
            users.append(u)
            relevant.append(mapped)
    return ValidationSplit(train=train, users=np.asarray(users, np.int64), relevant=relevant, song_map=song_map)
