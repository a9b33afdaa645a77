"""What every member of the vote shares: a preference transform, batched scoring, top-n, persistence.

A member implements :meth:`Member._fit`, :meth:`Member._score_prefs`,
:meth:`Member._similar_scores`, surprise's :meth:`estimate`, and the array
(de)serialisation hooks :meth:`Member._arrays` / :meth:`Member._load_arrays`;
everything else (fold-in, popularity fallback, masking the seen songs, raw ids,
save / load) is here. Scores come from vectorised numpy / scipy over the fitted
parameters, a batch of users at a time, never from ``predict``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from cf_service.core.base import History, Recommender, SurpriseAlgo
from cf_service.core.data import Interactions
from cf_service.core.ranking import Recommendations, SimilarSong, SimilarSongs, top_n
from cf_service.core.transforms import PreferenceTransform

BATCH = 512  # users scored at once: bounds the dense (BATCH, n_songs) float32 block

# One searched hyper-parameter: (name, candidate values, ordered?); see cf_service.core.tuning.
SearchSpace = list[tuple[str, list[Any], bool]]


class Member(SurpriseAlgo, Recommender):
    """Shared base of the vote's members (and of popularity).

    Class attributes a member sets:
        name: the registry key (``itemknn``, ``ease``, ``als``, ``popularity``).
        param_names: constructor arguments that :meth:`get_params` reports (besides ``transform``).
        search_space: what the tuning searches for this member, in order.

    Attributes (after fit or load):
        inter: the training :class:`Interactions` (raw counts + raw id arrays).
        X: (n_users, n_songs) CSR float32 transformed training preferences.
        popularity: (n_songs,) float32 number of listeners of each song.
    """

    name: ClassVar[str] = "member"
    param_names: ClassVar[tuple[str, ...]] = ()
    search_space: ClassVar[SearchSpace] = []

    def __init__(self, transform: str | dict[str, Any] = "binary") -> None:
        SurpriseAlgo.__init__(self)
        self.transform = PreferenceTransform.from_params(transform)
        self.inter: Interactions | None = None
        self.X: sp.csr_matrix | None = None
        self.popularity: np.ndarray | None = None
        self._popular_order: np.ndarray | None = None
        self.fit_seconds = 0.0

    def get_params(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (``transform`` included)."""
        out = {k: getattr(self, k) for k in self.param_names}
        out["transform"] = self.transform.params()
        return out

    # --- fitting ---------------------------------------------------------------
    def fit(self, data: Any) -> Member:
        """Fit on a surprise Trainset, :class:`Interactions`, Listens, frame or path(s)."""
        start = time.perf_counter()
        self.attach(self.surprise_input(data))
        assert self.X is not None
        self._fit(self.X)
        self.fit_seconds = time.perf_counter() - start
        return self

    def attach(self, inter: Interactions, refit_transform: bool = True) -> None:
        """Take ``inter`` as the training data: the transformed matrix and popularity, without fitting.

        Used by :meth:`fit`, by :meth:`load` (``refit_transform=False``: the saved transform is kept)
        and by models trained elsewhere (Spark) that only bring their parameters.
        """
        self.inter = inter
        if refit_transform:
            self.transform.fit(inter.counts)
        self.X = self.transform.apply(inter.counts)
        self.popularity = inter.song_listeners().astype(np.float32)
        self._popular_order = None

    def _fit(self, X: sp.csr_matrix) -> None:
        raise NotImplementedError

    # --- scoring -----------------------------------------------------------------
    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        """(b, n_songs) float32 scores of preference rows.

        Args:
            prefs: (b, n_songs) CSR transformed preferences (the histories).
            users: (b,) inner user ids when the rows are known training users
                (latent models use the learned user vectors), else None (fold-in).
        """
        raise NotImplementedError

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """(b, n_songs) float32 scores of known users given by (b,) inner ids."""
        assert self.X is not None
        users = np.asarray(users, dtype=np.int64)
        return self._score_prefs(self.X[users], users)

    def score_history(self, counts: sp.csr_matrix) -> np.ndarray:
        """(b, n_songs) float32 scores of unseen users from (b, n_songs) CSR play counts."""
        return self._score_prefs(self.transform.apply(counts), None)

    def _finish(
        self, scores: np.ndarray, seen: sp.csr_matrix | None, n: int, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mask seen songs (and songs outside ``within``), fall back to popularity on signal-less rows, take top-n:
        :meth:`finish_block` with every song in the block."""
        every = np.arange(scores.shape[1], dtype=np.int64)
        return self.finish_block(scores, every, every, seen, n, within)

    def top_n_rows(
        self,
        prefs: sp.csr_matrix,
        users: np.ndarray | None,
        seen: sp.csr_matrix | None,
        n: int,
        within: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of one batch of preference rows: (b, n) inner ids and (b, n) float32 scores, ``-inf`` pads.

        Args:
            prefs: (b, n_songs) CSR transformed preferences.
            users: (b,) inner user ids when the rows are training users, else None (fold-in).
            seen: (b, n_songs) CSR of songs never listed (the histories), or None.
            within: (n_songs,) bool mask of the songs that may be listed, or None.

        This dense version scores every song; members override it with a path whose cost grows with what the
        rows touch (neighbours, a capped song block), not with the catalogue.
        """
        return self._finish(self._score_prefs(prefs, users), seen, n, within)

    def top_n_users(self, users: np.ndarray, n: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of known users, batched.

        Args:
            users: (b,) inner user ids.
        Returns:
            ``(idx, scores)``, both (b, n); ``-inf`` scores mark padding.
        """
        assert self.X is not None
        users = np.asarray(users, dtype=np.int64)
        out_i, out_s = [], []
        for lo in range(0, len(users), BATCH):
            batch = users[lo : lo + BATCH]
            prefs = self.X[batch]
            idx, vals = self.top_n_rows(prefs, batch, prefs if exclude_seen else None, n)
            out_i.append(idx)
            out_s.append(vals)
        if not out_i:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(out_i), np.vstack(out_s)

    def top_n_history(
        self, counts: sp.csr_matrix, n: int, exclude_seen: bool = True, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of (b, n_songs) CSR history play counts (fold-in), batched; ``within``: (n_songs,) bool mask."""
        out_i, out_s = [], []
        for lo in range(0, counts.shape[0], BATCH):
            part = counts[lo : lo + BATCH]
            idx, vals = self.top_n_rows(self.transform.apply(part), None, part if exclude_seen else None, n, within)
            out_i.append(idx)
            out_s.append(vals)
        if not out_i:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(out_i), np.vstack(out_s)

    def popular_rows(
        self, rows: int, seen: sp.csr_matrix | None, n: int, within: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, n) popularity top-n (the fallback of rows without signal), seen songs and songs outside
        ``within`` left out; ``seen``: (rows, n_songs) CSR or None. Ids pad with 0, scores with ``-inf``."""
        idx = np.zeros((rows, n), np.int64)
        vals = np.full((rows, n), -np.inf, np.float32)
        self._fill_popular(idx, vals, np.arange(rows), np.zeros(rows, np.int64), seen, within)
        return idx, vals

    def pad_popular(
        self, idx: np.ndarray, vals: np.ndarray, seen: sp.csr_matrix | None, within: np.ndarray | None
    ) -> None:
        """Fill the ``-inf`` tail of (b, n) lists with popular songs not listed or seen yet, scored 0 (in place):
        songs without evidence still come after every song with some, in a meaningful order."""
        if not vals.shape[1]:
            return
        short = np.flatnonzero(~np.isfinite(vals[:, -1]))
        if len(short):
            have = np.isfinite(vals[short]).sum(axis=1)
            self._fill_popular(idx, vals, short, have, seen, within, score=0.0)

    def _fill_popular(
        self,
        idx: np.ndarray,
        vals: np.ndarray,
        rows: np.ndarray,
        have: np.ndarray,
        seen: sp.csr_matrix | None,
        within: np.ndarray | None,
        score: float | None = None,
    ) -> None:
        """Write popular songs into ``idx[r, have[k]:]`` for each ``r = rows[k]``, skipping the row's listed and seen
        songs (scores: popularity, or ``score``). One boolean scratch array: no per-row sort."""
        assert self.popularity is not None
        n = idx.shape[1]
        order = self.popular_order if within is None else self.popular_order[within[self.popular_order]]
        taken = np.zeros(len(self.popularity), bool)
        for r, h in zip(rows.tolist(), have.tolist(), strict=True):
            used = idx[r, :h]
            hist = seen.indices[seen.indptr[r] : seen.indptr[r + 1]] if seen is not None else used[:0]
            taken[used] = True
            taken[hist] = True
            head = order[: n + h + len(hist)]
            fill = head[~taken[head]][: n - h]
            taken[used] = False
            taken[hist] = False
            idx[r, h : h + len(fill)] = fill
            vals[r, h : h + len(fill)] = self.popularity[fill] if score is None else score

    @property
    def popular_order(self) -> np.ndarray:
        """(n_songs,) inner ids by popularity, most listened first, ties by id (cached)."""
        if self._popular_order is None:
            assert self.popularity is not None
            self._popular_order = np.lexsort((np.arange(len(self.popularity)), -self.popularity))
        return self._popular_order

    def finish_block(
        self,
        scores: np.ndarray,
        cols: np.ndarray,
        pos: np.ndarray,
        seen: sp.csr_matrix | None,
        n: int,
        within: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mask seen songs (and songs outside ``within``) in the scores of a block of songs (every other song is never
        listed), fall back to popularity on signal-less rows, take top-n.

        Args:
            scores: (b, M) float32 scores of the songs ``cols`` (edited in place).
            cols: (M,) int64 inner ids of the block's songs.
            pos: (n_songs,) int64 position of each song in ``cols``, -1 outside.
        Returns:
            (b, n) inner ids and (b, n) float32 scores, ``-inf`` pads; rows without signal get popular songs.
        """
        b = scores.shape[0]
        if seen is not None and seen.nnz:
            r = np.repeat(np.arange(b), np.diff(seen.indptr))
            at = pos[seen.indices]
            scores[r[at >= 0], at[at >= 0]] = -np.inf
        if within is not None:
            scores[:, ~within[cols]] = -np.inf
        lo = np.min(scores, axis=1, where=np.isfinite(scores), initial=np.inf)
        idx = np.zeros((b, n), np.int64)
        vals = np.full((b, n), -np.inf, np.float32)
        part_i, part_v = top_n(scores, n)
        idx[:, : part_i.shape[1]] = cols[part_i] if len(cols) else part_i
        vals[:, : part_v.shape[1]] = part_v
        hi = part_v[:, 0] if part_v.shape[1] else np.full(b, -np.inf, np.float32)
        flat = np.flatnonzero(~(hi > lo))  # every candidate tied (e.g. no history song in the block): no signal
        if len(flat):
            idx[flat], vals[flat] = self.popular_rows(len(flat), seen[flat] if seen is not None else None, n, within)
        return idx, vals

    # --- raw-id interface --------------------------------------------------------
    def recommend_many(self, users: Sequence[str], n: int = 10, exclude_seen: bool = True) -> list[Recommendations]:
        inter = self.interactions
        inner = [inter.user_index.get(u) for u in users]
        results: list[Recommendations] = []
        known = np.asarray([v for v in inner if v is not None], dtype=np.int64)
        idx, vals = self.top_n_users(known, n, exclude_seen) if len(known) else (None, None)
        row = 0
        for user, v in zip(users, inner, strict=True):
            if v is None or idx is None or vals is None:
                pop = self.popular(n)
                pop.user_id = user
                results.append(pop)
            else:
                results.append(self.ranked_list(user, idx[row], vals[row], None))
                row += 1
        return results

    def recommend_for_history(
        self, history: History, n: int = 10, exclude_seen: bool = True, within: Sequence[str] | None = None
    ) -> Recommendations:
        inter = self.interactions
        counts, unknown = inter.history_matrix([history])
        if counts.nnz == 0:
            res = self.popular(n, exclude=[s for s, _ in history], within=within)
            res.unknown_songs = unknown
            return res
        idx, vals = self.top_n_history(counts, n, exclude_seen, self.within_mask(within))
        res = self.ranked_list(None, idx[0], vals[0], None)
        res.unknown_songs = unknown
        return res

    def _similar_scores(self, item: int) -> np.ndarray:
        """(n_songs,) float32 similarity of every song to inner song ``item``."""
        raise NotImplementedError

    def similar_items(self, song_id: str, n: int = 10, within: Sequence[str] | None = None) -> SimilarSongs:
        inter = self.interactions
        j = inter.song_index.get(str(song_id))
        if j is None:
            return self.popular_similar(song_id, n, within)
        scores = self._similar_scores(j).astype(np.float32, copy=True)[None, :]
        mask = self.within_mask(within)
        if mask is not None:
            scores[0, ~mask] = -np.inf
        scores[0, j] = -np.inf
        scores[0, scores[0] == 0] = -np.inf  # no evidence: not "similar"
        idx, vals = top_n(scores, n)
        keep = np.isfinite(vals[0])
        items = [
            SimilarSong(str(inter.songs[i]), float(s), r + 1)
            for r, (i, s) in enumerate(zip(idx[0][keep].tolist(), vals[0][keep].tolist(), strict=True))
        ]
        return SimilarSongs(str(song_id), items, self.name, None)

    # --- persistence -------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        """Fitted parameters as plain numeric arrays."""
        return {}

    def _load_arrays(self, arrays: Any) -> None:
        pass

    def save(self, directory: str | Path, include_data: bool = True) -> Path:
        """Write ``meta.json`` + ``model.npz`` (+ ``interactions.npz``) into ``directory``."""
        inter = self.interactions
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "class": type(self).__name__,
            "name": self.name,
            "params": self.get_params(),
            "fit_seconds": self.fit_seconds,
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=1))
        arrays = dict(self._arrays())
        arrays["transform_idf"] = self.transform.idf
        arrays["transform_avg_len"] = np.asarray([self.transform.avg_len], np.float64)
        savez(out / "model.npz", arrays)
        if include_data:
            savez(out / "interactions.npz", inter.to_arrays())
        return out

    def restore(self, arrays: Any, inter: Interactions) -> None:
        """Set the fitted state from ``model.npz`` arrays and the training interactions."""
        self.transform.idf = np.asarray(arrays["transform_idf"])
        self.transform.avg_len = float(arrays["transform_avg_len"][0])
        self.attach(inter, refit_transform=False)
        self._load_arrays(arrays)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Member:
        return cls(**params)

    @classmethod
    def load(cls, directory: str | Path, inter: Interactions | None = None) -> Member:
        """Load a member saved by :meth:`save` (the class is read from ``meta.json``)."""
        from cf_service.core.members import load_member

        return load_member(directory, inter)


def savez(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` of plain numeric / unicode arrays (readable with ``allow_pickle=False``)."""
    for name, arr in arrays.items():
        if np.asarray(arr).dtype.kind == "O":
            raise TypeError(f"{name}: object arrays are not allowed in artifacts")
    np.savez(path, **arrays)  # type: ignore[arg-type]


def load_interactions(path: str | Path) -> Interactions:
    """``interactions.npz`` written by :meth:`Member.save` or the vote."""
    with np.load(path, allow_pickle=False) as z:
        return Interactions.from_arrays(z)
