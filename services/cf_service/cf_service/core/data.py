"""Listens as a sparse user x song matrix, and the bridge to surprise's Trainset.

Every model in :mod:`cf_service.core` works on :class:`Interactions`: the raw
play counts of ``n_users`` users on ``n_songs`` songs as a CSR matrix, plus
the raw id arrays that translate inner (dense, 0-based) ids back to the
strings the outside world uses. Raw ids are converted only at the boundary.

Id arrays are numpy *unicode* arrays (``dtype('<U..')``), never object
arrays, so they can be written to ``.npz`` and read back with
``allow_pickle=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from musicrec_common.tasteprofile import Listens, read_listens
from surprise import Trainset

COLUMNS = ("user_id", "song_id", "play_count")


def _as_unicode(values: Iterable[Any]) -> np.ndarray:
    """(n,) unicode array; an empty input still gets a unicode dtype."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return np.zeros(0, dtype="<U1")
    return arr.astype(str)


@dataclass
class Interactions:
    """Play counts of users on songs.

    Attributes:
        users: (n_users,) unicode raw user ids; row ``u`` of ``counts`` is ``users[u]``.
        songs: (n_songs,) unicode raw song ids; column ``i`` is ``songs[i]``.
        counts: (n_users, n_songs) CSR float32 play counts (duplicates summed,
            sorted indices, no explicit zeros).
    """

    users: np.ndarray
    songs: np.ndarray
    counts: sp.csr_matrix
    _user_index: dict[str, int] | None = field(default=None, repr=False, compare=False)
    _song_index: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.users = _as_unicode(self.users)
        self.songs = _as_unicode(self.songs)
        counts = sp.csr_matrix(self.counts, dtype=np.float32)
        counts.sum_duplicates()
        counts.eliminate_zeros()
        counts.sort_indices()
        self.counts = counts
        if counts.shape != (len(self.users), len(self.songs)):
            raise ValueError(f"counts shape {counts.shape} != ({len(self.users)}, {len(self.songs)})")

    # --- sizes and id maps -------------------------------------------------
    @property
    def n_users(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_songs(self) -> int:
        return int(self.counts.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.counts.nnz)

    @property
    def user_index(self) -> dict[str, int]:
        """Raw user id -> inner id (built lazily, cached)."""
        if self._user_index is None:
            self._user_index = {str(u): i for i, u in enumerate(self.users.tolist())}
        return self._user_index

    @property
    def song_index(self) -> dict[str, int]:
        """Raw song id -> inner id (built lazily, cached)."""
        if self._song_index is None:
            self._song_index = {str(s): i for i, s in enumerate(self.songs.tolist())}
        return self._song_index

    def binary(self) -> sp.csr_matrix:
        """(n_users, n_songs) CSR float32 with 1.0 where a user played a song."""
        out = self.counts.copy()
        out.data[:] = 1.0
        return out

    def song_listeners(self) -> np.ndarray:
        """(n_songs,) int64 number of distinct listeners of each song."""
        return np.bincount(self.counts.indices, minlength=self.n_songs).astype(np.int64)

    def user_lengths(self) -> np.ndarray:
        """(n_users,) int64 number of distinct songs of each user."""
        return np.diff(self.counts.indptr).astype(np.int64)

    def with_counts(self, counts: sp.csr_matrix) -> Interactions:
        """Same id spaces, different matrix (e.g. a validation training part)."""
        return Interactions(self.users, self.songs, counts)

    def history_matrix(self, histories: Sequence[Sequence[tuple[str, float]]]) -> tuple[sp.csr_matrix, int]:
        """Encode raw ``(song_id, play_count)`` histories over this song space.

        Returns ``((len(histories), n_songs) CSR float32, n_unknown)`` where
        ``n_unknown`` counts entries whose song is not in the catalogue (dropped).
        Repeated songs in one history are summed; non-positive counts dropped.
        """
        index = self.song_index
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        unknown = 0
        for r, hist in enumerate(histories):
            for song, count in hist:
                j = index.get(str(song))
                if j is None:
                    unknown += 1
                    continue
                c = float(count)
                if not np.isfinite(c) or c <= 0:
                    continue
                rows.append(r)
                cols.append(j)
                vals.append(c)
        mat = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(histories), self.n_songs),
        )
        mat.sum_duplicates()
        return mat, unknown

    def to_frame(self) -> pd.DataFrame:
        """(nnz, 3) frame ``user_id, song_id, play_count`` (int64 counts)."""
        coo = self.counts.tocoo()
        return pd.DataFrame(
            {
                "user_id": self.users[coo.row],
                "song_id": self.songs[coo.col],
                "play_count": coo.data.astype(np.int64),
            }
        )

    # --- arrays for .npz ---------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "users": self.users,
            "songs": self.songs,
            "indptr": self.counts.indptr.astype(np.int64),
            "indices": self.counts.indices.astype(np.int32),
            "data": self.counts.data.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> Interactions:
        users = np.asarray(arrays["users"])
        songs = np.asarray(arrays["songs"])
        counts = sp.csr_matrix(
            (np.asarray(arrays["data"]), np.asarray(arrays["indices"]), np.asarray(arrays["indptr"])),
            shape=(len(users), len(songs)),
        )
        return cls(users, songs, counts)


def from_codes(
    users: np.ndarray, songs: np.ndarray, user_codes: np.ndarray, song_codes: np.ndarray, counts: np.ndarray
) -> Interactions:
    """Build from id-encoded arrays (``read_listens`` output layout)."""
    mat = sp.csr_matrix(
        (np.asarray(counts, dtype=np.float32), (np.asarray(user_codes, np.int64), np.asarray(song_codes, np.int64))),
        shape=(len(users), len(songs)),
    )
    return Interactions(users, songs, mat)


def from_listens(listens: Listens) -> Interactions:
    """Interactions of a :class:`~musicrec_common.tasteprofile.Listens` (duplicates summed)."""
    return from_codes(listens.users, listens.songs, listens.user_codes, listens.song_codes, listens.counts)


def from_frame(frame: pd.DataFrame) -> Interactions:
    """Interactions of a frame with columns ``user_id, song_id, play_count``."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    ucodes, users = pd.factorize(frame["user_id"].astype(str), sort=False)
    scodes, songs = pd.factorize(frame["song_id"].astype(str), sort=False)
    counts = frame["play_count"].to_numpy(dtype=np.float64)
    if len(counts) and (not np.isfinite(counts).all() or (counts <= 0).any()):
        raise ValueError("play counts must be positive")
    return from_codes(np.asarray(users), np.asarray(songs), ucodes, scodes, counts)


def read_interactions(paths: str | Path | Sequence[str | Path]) -> Interactions:
    """Read one or more Taste Profile TSV files into one id space (counts summed)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    parts = [read_listens(p) for p in paths]
    if len(parts) == 1:
        return from_listens(parts[0])
    frames = []
    for p in parts:
        frames.append(
            pd.DataFrame({"user_id": p.users[p.user_codes], "song_id": p.songs[p.song_codes], "play_count": p.counts})
        )
    return from_frame(pd.concat(frames, ignore_index=True))


class CountsTrainset(Trainset):  # type: ignore[misc]
    """A surprise Trainset that also carries the :class:`Interactions` it came from.

    Inner ids are exactly the Interactions' row / column indices, so a model
    fitted through surprise's API can score with vectorised numpy directly.
    Ratings are raw play counts (``rating_scale`` = (1, max count)).
    """

    interactions: Interactions


def to_trainset(inter: Interactions) -> CountsTrainset:
    """Build a surprise Trainset directly (faster than ``Dataset.load_from_df``)."""
    csr = inter.counts
    csc = csr.tocsc()
    csc.sort_indices()
    ur: dict[int, list[tuple[int, float]]] = {}
    for u in range(inter.n_users):
        lo, hi = csr.indptr[u], csr.indptr[u + 1]
        ur[u] = list(zip(csr.indices[lo:hi].tolist(), csr.data[lo:hi].tolist(), strict=True))
    ir: dict[int, list[tuple[int, float]]] = {}
    for i in range(inter.n_songs):
        lo, hi = csc.indptr[i], csc.indptr[i + 1]
        ir[i] = list(zip(csc.indices[lo:hi].tolist(), csc.data[lo:hi].tolist(), strict=True))
    top = float(csr.data.max()) if csr.nnz else 1.0
    ts = CountsTrainset(
        ur,
        ir,
        inter.n_users,
        inter.n_songs,
        inter.nnz,
        (1.0, max(1.0, top)),
        dict(inter.user_index),
        dict(inter.song_index),
    )
    ts.interactions = inter
    return ts


def from_trainset(trainset: Trainset) -> Interactions:
    """Interactions of any surprise Trainset (ratings are taken as play counts)."""
    inter = getattr(trainset, "interactions", None)
    if isinstance(inter, Interactions):
        return inter
    users = np.array([str(trainset.to_raw_uid(u)) for u in range(trainset.n_users)])
    songs = np.array([str(trainset.to_raw_iid(i)) for i in range(trainset.n_items)])
    rows, cols, vals = [], [], []
    for u, items in trainset.ur.items():
        for i, r in items:
            rows.append(u)
            cols.append(i)
            vals.append(r)
    mat = sp.csr_matrix(
        (np.asarray(vals, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
        shape=(trainset.n_users, trainset.n_items),
    )
    return Interactions(users, songs, mat)


def as_interactions(data: Any) -> Interactions:
    """Accept Interactions, a surprise Trainset, a Listens, a frame, or path(s)."""
    if isinstance(data, Interactions):
        return data
    if isinstance(data, Trainset):
        return from_trainset(data)
    if isinstance(data, Listens):
        return from_listens(data)
    if isinstance(data, pd.DataFrame):
        return from_frame(data)
    if isinstance(data, (str, Path, list, tuple)):
        return read_interactions(data)
    raise TypeError(f"cannot build Interactions from {type(data).__name__}")


def read_frame(path: str | Path) -> pd.DataFrame:
    """A TSV file as a frame ``user_id, song_id, play_count`` (validated by the shared loader)."""
    listens = read_listens(path)
    return pd.DataFrame(
        {
            "user_id": listens.users[listens.user_codes].astype(str),
            "song_id": listens.songs[listens.song_codes].astype(str),
            "play_count": listens.counts.astype(np.int64),
        }
    )


def write_frame(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``user_id, song_id, play_count`` as TSV with a header."""
    frame.loc[:, list(COLUMNS)].to_csv(path, sep="\t", index=False)
