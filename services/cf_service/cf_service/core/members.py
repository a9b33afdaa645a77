"""The three members of the vote (plus popularity), inside surprise's framework.

Every model here is a :class:`surprise.AlgoBase` subclass: it can be fitted
with ``fit(trainset)`` on a :class:`surprise.Trainset` and answers surprise's
``estimate(u, i)`` / ``predict(uid, iid, clip=False)`` for compatibility.
Ranking never goes through ``predict``: scores come from vectorised numpy /
scipy over the fitted parameters, a batch of users at a time
(:meth:`Member.score_users`, :meth:`Member.score_history`).

Members:

* :class:`ItemKNN` - asymmetric-cosine item neighbourhood (Aiolli 2013, winner
  of the MSD Challenge): ``w(i, j) = |U_i & U_j| / (|U_i|^alpha |U_j|^(1-alpha))``,
  locality exponent ``q``, top-``k`` neighbours per item kept as a sparse matrix.
* :class:`EASE` - Steck 2019 closed form ``B = I - P / diag(P)``,
  ``P = (X^T X + lambda I)^-1``, over the ``max_items`` most-listened songs only
  so memory is bounded by ``max_items^2`` whatever the catalogue size.
* :class:`ALS` - implicit-feedback matrix factorisation (Hu, Koren & Volinsky
  2008) fitted by the ``implicit`` library's CPU conjugate-gradient ALS;
  fold-in of an unseen history is one ``factors x factors`` solve.
* :class:`Popularity` - number of listeners; the fallback for unknown users.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from surprise import AlgoBase, PredictionImpossible, Trainset

from cf_service.core.data import Interactions, as_interactions, from_trainset, to_trainset
from cf_service.core.ranking import (
    Recommendations,
    RecommendedSong,
    SimilarSong,
    SimilarSongs,
    mask_rows,
    top_n,
)
from cf_service.core.transforms import PreferenceTransform

History = Sequence[tuple[str, float]]
BATCH = 512  # users scored at once: bounds the dense (BATCH, n_songs) float32 block


class Member(AlgoBase):  # type: ignore[misc]
    """Common recommender interface of every model (members, popularity, vote).

    Subclasses implement :meth:`_fit`, :meth:`_score_prefs`, :meth:`estimate`,
    :meth:`_similar_scores` and the array (de)serialisation hooks.

    Attributes (after fit or load):
        inter: the training :class:`Interactions` (raw counts + raw id arrays).
        X: (n_users, n_songs) CSR float32 transformed training preferences.
        popularity: (n_songs,) float32 number of listeners of each song.
    """

    name: ClassVar[str] = "member"
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, transform: str | dict[str, Any] = "binary") -> None:
        AlgoBase.__init__(self)
        self.transform = PreferenceTransform.from_params(transform)
        self.inter: Interactions | None = None
        self.X: sp.csr_matrix | None = None
        self.popularity: np.ndarray | None = None
        self._trainset: Trainset | None = None
        self.fit_seconds = 0.0

    # --- surprise plumbing ---------------------------------------------------
    @property
    def trainset(self) -> Trainset:
        """surprise Trainset; rebuilt lazily from ``inter`` (e.g. after load)."""
        if self._trainset is None and self.inter is not None:
            self._trainset = to_trainset(self.inter)
        return self._trainset

    @trainset.setter
    def trainset(self, value: Trainset | None) -> None:
        self._trainset = value

    def get_params(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (``transform`` included)."""
        out = {k: getattr(self, k) for k in self.param_names}
        out["transform"] = self.transform.params()
        return out

    # --- fitting ---------------------------------------------------------------
    def fit(self, data: Any) -> Member:
        """Fit on a surprise Trainset, :class:`Interactions`, Listens, frame or path(s)."""
        start = time.perf_counter()
        if isinstance(data, Trainset):
            AlgoBase.fit(self, data)
            inter = from_trainset(data)
        else:
            inter = as_interactions(data)
            AlgoBase.fit(self, None)  # the Trainset is built lazily if surprise's API is used
        self._set_data(inter)
        assert self.X is not None
        self._fit(self.X)
        self.fit_seconds = time.perf_counter() - start
        return self

    def _set_data(self, inter: Interactions, refit_transform: bool = True) -> None:
        self.inter = inter
        if refit_transform:
            self.transform.fit(inter.counts)
        self.X = self.transform.apply(inter.counts)
        self.popularity = inter.song_listeners().astype(np.float32)

    def _fit(self, X: sp.csr_matrix) -> None:
        raise NotImplementedError

    def warm(self) -> Member:
        """Build lazy caches (id maps, transposes) now, so the first request is not slow."""
        inter = self._require()
        _ = inter.user_index, inter.song_index
        return self

    def _require(self) -> Interactions:
        if self.inter is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self.inter

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

    def _finish(self, scores: np.ndarray, seen: sp.csr_matrix | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Mask seen songs, fall back to popularity on signal-less rows, take top-n."""
        assert self.popularity is not None
        if seen is not None:
            mask_rows(scores, seen)
        finite = np.isfinite(scores)
        hi = np.where(finite, scores, -np.inf).max(axis=1)
        lo = np.where(finite, scores, np.inf).min(axis=1)
        flat = ~(hi > lo)  # every candidate tied (e.g. empty history): no signal
        if flat.any():
            pop = np.broadcast_to(self.popularity, (int(flat.sum()), scores.shape[1])).astype(np.float32)
            if seen is not None:
                mask_rows(pop, seen[np.flatnonzero(flat)])
            scores[flat] = pop
        return top_n(scores, n)

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
            scores = self.score_users(batch)
            idx, vals = self._finish(scores, self.X[batch] if exclude_seen else None, n)
            out_i.append(idx)
            out_s.append(vals)
        if not out_i:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(out_i), np.vstack(out_s)

    def top_n_history(self, counts: sp.csr_matrix, n: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of (b, n_songs) CSR history play counts (fold-in), batched."""
        out_i, out_s = [], []
        for lo in range(0, counts.shape[0], BATCH):
            part = counts[lo : lo + BATCH]
            idx, vals = self._finish(self.score_history(part), part if exclude_seen else None, n)
            out_i.append(idx)
            out_s.append(vals)
        if not out_i:
            return np.zeros((0, n), np.int64), np.zeros((0, n), np.float32)
        return np.vstack(out_i), np.vstack(out_s)

    # --- raw-id interface --------------------------------------------------------
    def _to_list(self, user_id: str | None, idx: np.ndarray, vals: np.ndarray, fallback: str | None) -> Recommendations:
        inter = self._require()
        keep = np.isfinite(vals)
        items = [
            RecommendedSong(song_id=str(inter.songs[i]), score=float(s), rank=r + 1)
            for r, (i, s) in enumerate(zip(idx[keep].tolist(), vals[keep].tolist(), strict=True))
        ]
        return Recommendations(user_id=user_id, items=items, model=self.name, fallback=fallback)

    def popular(self, n: int = 10, exclude: Sequence[str] = ()) -> Recommendations:
        """The ``n`` most-listened songs (optionally excluding raw song ids), ``fallback="popular"``."""
        inter = self._require()
        assert self.popularity is not None
        scores = self.popularity[None, :].astype(np.float32).copy()
        for s in exclude:
            j = inter.song_index.get(str(s))
            if j is not None:
                scores[0, j] = -np.inf
        idx, vals = top_n(scores, n)
        return self._to_list(None, idx[0], vals[0], "popular")

    @overload
    def recommend(self, users: str, n: int = 10, exclude_seen: bool = True) -> Recommendations: ...  # type: ignore[overload-overlap]

    @overload
    def recommend(self, users: Sequence[str], n: int = 10, exclude_seen: bool = True) -> list[Recommendations]: ...

    def recommend(
        self, users: str | Sequence[str], n: int = 10, exclude_seen: bool = True
    ) -> Recommendations | list[Recommendations]:
        """Top-n for one raw user id (-> Recommendations) or a batch (-> list, same order).

        Unknown users get the popularity list with ``fallback="popular"``.
        """
        if isinstance(users, str):
            return self.recommend_many([users], n, exclude_seen)[0]
        return self.recommend_many([str(u) for u in users], n, exclude_seen)

    def recommend_many(self, users: Sequence[str], n: int = 10, exclude_seen: bool = True) -> list[Recommendations]:
        """Batch form of :meth:`recommend` (one vectorised pass over the known users)."""
        inter = self._require()
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
                results.append(self._to_list(user, idx[row], vals[row], None))
                row += 1
        return results

    def recommend_for_history(self, history: History, n: int = 10, exclude_seen: bool = True) -> Recommendations:
        """Top-n for a user the model has not seen, from ``(song_id, play_count)`` pairs.

        Songs outside the catalogue are ignored (counted in ``unknown_songs``);
        an empty or fully unknown history gets ``fallback="popular"``.
        """
        inter = self._require()
        counts, unknown = inter.history_matrix([history])
        if counts.nnz == 0:
            res = self.popular(n, exclude=[s for s, _ in history])
            res.unknown_songs = unknown
            return res
        idx, vals = self.top_n_history(counts, n, exclude_seen)
        res = self._to_list(None, idx[0], vals[0], None)
        res.unknown_songs = unknown
        return res

    def _similar_scores(self, item: int) -> np.ndarray:
        """(n_songs,) float32 similarity of every song to inner song ``item``."""
        raise NotImplementedError

    def similar_items(self, song_id: str, n: int = 10) -> SimilarSongs:
        """Songs most similar to a raw song id; unknown song -> popular with a flag."""
        inter = self._require()
        j = inter.song_index.get(str(song_id))
        if j is None:
            pop = self.popular(n)
            items = [SimilarSong(it.song_id, it.score, it.rank) for it in pop.items]
            return SimilarSongs(str(song_id), items, self.name, "popular")
        scores = self._similar_scores(j).astype(np.float32, copy=True)[None, :]
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
        inter = self._require()
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

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Member:
        return cls(**params)

    @classmethod
    def load(cls, directory: str | Path, inter: Interactions | None = None) -> Member:
        """Load a member saved by :meth:`save` (``inter`` given when saved without data)."""
        return load_member(directory, inter)


def savez(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` of plain numeric / unicode arrays (readable with ``allow_pickle=False``)."""
    for name, arr in arrays.items():
        if np.asarray(arr).dtype.kind == "O":
            raise TypeError(f"{name}: object arrays are not allowed in artifacts")
    np.savez(path, **arrays)  # type: ignore[arg-type]


def load_member(directory: str | Path, inter: Interactions | None = None) -> Member:
    """Load any member from ``directory`` (class taken from ``meta.json``)."""
    path = Path(directory)
    meta = json.loads((path / "meta.json").read_text())
    cls = MEMBER_CLASSES[meta["class"]]
    model = cls.from_params(meta["params"])
    if inter is None:
        with np.load(path / "interactions.npz", allow_pickle=False) as z:
            inter = Interactions.from_arrays(z)
    with np.load(path / "model.npz", allow_pickle=False) as z:
        model.transform.idf = np.asarray(z["transform_idf"])
        model.transform.avg_len = float(z["transform_avg_len"][0])
        model._set_data(inter, refit_transform=False)
        model._load_arrays(z)
    model.fit_seconds = float(meta.get("fit_seconds", 0.0))
    return model


# ---------------------------------------------------------------------------------
class Popularity(Member):
    """Songs ranked by number of listeners, the same list for everyone."""

    name = "popularity"

    def _fit(self, X: sp.csr_matrix) -> None:
        pass

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.popularity is not None
        return np.repeat(self.popularity[None, :], prefs.shape[0], axis=0).astype(np.float32)

    def estimate(self, u: Any, i: Any) -> float:
        if not self.trainset.knows_item(i):
            raise PredictionImpossible("unknown song")
        assert self.popularity is not None
        return float(self.popularity[i])

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.popularity is not None
        return self.popularity


# ---------------------------------------------------------------------------------
def _prune_rows(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every CSR row (rows are candidates)."""
    mat.sum_duplicates()
    counts = np.diff(mat.indptr)
    keep = np.ones(mat.nnz, dtype=bool)
    data = mat.data
    # Only rows longer than k need a partition; one small argpartition each.
    for r in np.flatnonzero(counts > k).tolist():
        lo, hi = mat.indptr[r], mat.indptr[r + 1]
        drop = np.argpartition(-data[lo:hi], k)[k:]
        keep[lo + drop] = False
    row_of = np.repeat(np.arange(mat.shape[0]), counts)
    kept_per_row = np.bincount(row_of[keep], minlength=mat.shape[0])
    indptr = np.concatenate([[0], np.cumsum(kept_per_row)]).astype(np.int64)
    out = sp.csr_matrix((data[keep], mat.indices[keep], indptr), shape=mat.shape)
    out.sort_indices()
    return out


# Co-occurrence matrices are reused across tuning trials that only change
# alpha / q / k / the history transform (one entry; bounded size).
_COOC_CACHE: dict[str, sp.csr_matrix] = {}
COOC_CACHE_MAX_NNZ = 40_000_000


def _cooccurrence_key(weighted: sp.csr_matrix) -> str:
    h = hashlib.blake2b(digest_size=16)
    for arr in (weighted.indptr, weighted.indices, weighted.data):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr(weighted.shape).encode())
    return h.hexdigest()


class ItemKNN(Member):
    """Asymmetric-cosine item neighbourhood (Aiolli 2013).

    ``N[i, j] = (|U_i & U_j| / (|U_i|^alpha * |U_j|^(1 - alpha)))^q`` for the
    ``k`` most similar songs ``j`` of each candidate ``i``. Set sizes are
    counted over binary listens, each user weighted by ``1 / |I_u|^user_damping``
    (inverse user frequency: someone who played 500 songs says less about any
    pair of them than someone who played 10; ``user_damping = 0`` is Aiolli's
    plain set version). A user's score for ``i`` is ``sum_j x_uj * N[i, j]``
    over the history ``x_u`` (the transformed play counts).

    Attributes:
        N: (n_songs, n_songs) CSR float32; row ``i`` holds the ``k`` neighbours of ``i``.
    """

    name = "itemknn"
    param_names = ("alpha", "q", "k", "user_damping")

    def __init__(
        self,
        alpha: float = 0.5,
        q: float = 3.0,
        k: int = 200,
        transform: str | dict[str, Any] = "binary",
        user_damping: float = 0.0,
        block: int = 2048,
    ) -> None:
        super().__init__(transform)
        self.alpha = float(alpha)
        self.q = float(q)
        self.k = int(k)
        self.user_damping = float(user_damping)
        self.block = int(block)
        self.N: sp.csr_matrix | None = None
        self._nt: sp.csr_matrix | None = None

    def _fit(self, X: sp.csr_matrix) -> None:
        lengths = np.maximum(np.diff(X.indptr), 1).astype(np.float64)
        weighted = sp.csr_matrix(X, dtype=np.float64, copy=True)
        # Row u scaled by |I_u|^(-damping/2), so the product weights each user by |I_u|^-damping.
        weighted.data = np.repeat(lengths ** (-self.user_damping / 2.0), np.diff(X.indptr))
        m = weighted.shape[1]
        n = np.bincount(weighted.indices, weights=weighted.data**2, minlength=m)  # (weighted) listeners
        n = np.where(n > 0, n, 1.0)
        n_a = np.power(n, self.alpha)
        n_b = np.power(n, 1.0 - self.alpha)
        wt = weighted.T.tocsr()  # (n_songs, n_users)
        pair_bound = int(np.square(np.diff(X.indptr), dtype=np.int64).sum())  # >= nnz of the co-occurrence
        key = _cooccurrence_key(weighted) if pair_bound <= COOC_CACHE_MAX_NNZ else None
        parts = []
        # Candidate rows in blocks, pruned to top-k as we go, so memory stays
        # O(n_songs * k) (+ one cached co-occurrence matrix when it is small).
        block = m if key is not None else self.block
        for lo in range(0, m, block):
            hi = min(m, lo + block)
            if key is not None and key in _COOC_CACHE:
                co = _COOC_CACHE[key]
            else:
                co = (wt[lo:hi] @ weighted).tocsr()  # co[i - lo, j] = weighted |U_i & U_j|
                if key is not None:
                    _COOC_CACHE.clear()
                    _COOC_CACHE[key] = co
            rows = np.repeat(np.arange(lo, hi), np.diff(co.indptr))
            j = co.indices
            w = np.power(co.data / (n_a[rows] * n_b[j]), self.q)
            w[j == rows] = 0.0  # no self-similarity
            # Own copies of the index arrays: pruning edits them in place and `co` may be cached.
            sim = sp.csr_matrix((w.astype(np.float32), j.copy(), co.indptr.copy()), shape=co.shape)
            sim.eliminate_zeros()
            parts.append(_prune_rows(sim, self.k))
        self.N = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((m, m), dtype=np.float32)
        self.N.sort_indices()
        self._nt = None

    def warm(self) -> Member:
        super().warm()
        _ = self.NT
        return self

    @property
    def NT(self) -> sp.csr_matrix:
        """(n_songs, n_songs) CSR transpose of ``N``: row ``j`` = candidates that ``j`` supports (cached)."""
        if self._nt is None:
            assert self.N is not None
            self._nt = self.N.T.tocsr()
        return self._nt

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        # (b, m) x (m, m), kept sparse until the end: only neighbours of the history.
        return np.asarray((prefs @ self.NT).toarray(), dtype=np.float32)

    def contributions(self, prefs_row: sp.csr_matrix, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-history-song contributions ``x_uj * N[i, j]``.

        Args:
            prefs_row: (1, n_songs) CSR transformed history.
            items: (r,) inner ids of recommended songs.
        Returns:
            ``(hist, contrib)``: (h,) inner ids of the history songs and (r, h) float32.
        """
        assert self.N is not None
        hist = prefs_row.indices.astype(np.int64)
        sub = self.N[items][:, hist].toarray().astype(np.float32)
        return hist, sub * prefs_row.data[None, :].astype(np.float32)

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.X is not None and self.N is not None
        return float(self.X[u].multiply(self.N[i]).sum())

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.N is not None
        return np.asarray(self.N[item].toarray()[0], dtype=np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.N is not None
        return {
            "N_data": self.N.data,
            "N_indices": self.N.indices.astype(np.int32),
            "N_indptr": self.N.indptr.astype(np.int64),
        }

    def _load_arrays(self, arrays: Any) -> None:
        m = self._require().n_songs
        self.N = sp.csr_matrix((arrays["N_data"], arrays["N_indices"], arrays["N_indptr"]), shape=(m, m))
        self._nt = None


# ---------------------------------------------------------------------------------
def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix via Cholesky (LAPACK potrf/potri).

    About twice as fast as ``np.linalg.inv``; works in place on ``gram``.
    """
    lapack = scipy.linalg.lapack
    potrf, potri = (lapack.spotrf, lapack.spotri) if gram.dtype == np.float32 else (lapack.dpotrf, lapack.dpotri)
    chol, info = potrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info={info})")
    inv, info = potri(chol, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    # potri fills the upper triangle only.
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


class EASE(Member):
    """EASE (Steck 2019) over the ``max_items`` most-listened songs.

    ``B = I - P / diag(P)`` with ``P = (X_c^T X_c + lam * s * I)^-1``, ``X_c``
    the transformed matrix restricted to the capped catalogue and ``s`` the
    mean squared non-zero preference (1 for ``binary``), so ``lam`` keeps its
    meaning across transforms. Songs outside
    the cap are never recommended by this member (score ``-inf``) and do not
    contribute to scores.

    Attributes:
        items: (M,) int64 inner ids of the capped songs (sorted ascending).
        pos: (n_songs,) int64 position of each song in ``items``, -1 if outside.
        B: (M, M) float32 item-item weights, zero diagonal; ``B[j, i]`` is the
            weight of history song ``items[j]`` for candidate ``items[i]``.
    """

    name = "ease"
    param_names = ("lam", "max_items", "dropout")

    def __init__(
        self,
        lam: float = 200.0,
        max_items: int = 8000,
        transform: str | dict[str, Any] = "binary",
        dropout: float = 0.0,
        dtype: str = "float32",
        blas_threads: int | None = None,
    ) -> None:
        super().__init__(transform)
        self.blas_threads = blas_threads
        self.lam = float(lam)
        self.dropout = float(dropout)
        self.max_items = int(max_items)
        self.dtype = str(dtype)
        self.items = np.zeros(0, np.int64)
        self.pos = np.zeros(0, np.int64)
        self.B: np.ndarray | None = None
        self.lam_scale = 1.0

    def _cap(self, X: sp.csr_matrix) -> None:
        m = X.shape[1]
        listeners = np.bincount(X.indices, minlength=m)
        order = np.lexsort((np.arange(m), -listeners))  # most listened first, ties by id
        chosen = order[: min(self.max_items, m)]
        chosen = chosen[listeners[chosen] > 0]
        self.items = np.sort(chosen).astype(np.int64)
        self.pos = np.full(m, -1, np.int64)
        self.pos[self.items] = np.arange(len(self.items))

    def _fit(self, X: sp.csr_matrix) -> None:
        self._cap(X)
        xc = X[:, self.items]
        gram = np.asarray((xc.T @ xc).toarray(), dtype=np.dtype(self.dtype))
        # lam is in "binary units": scaled by the mean squared preference so one
        # value means the same shrinkage whichever transform is used.
        self.lam_scale = float(np.mean(np.square(X.data, dtype=np.float64))) if X.nnz else 1.0
        diag = np.diag(gram).copy()
        gram[np.diag_indices_from(gram)] += self.lam * self.lam_scale
        if self.dropout > 0:
            # EDLAE (Steck 2020): dropout-style shrinkage proportional to each song's
            # own Gram diagonal penalises popular songs' self-reconstruction more.
            gram[np.diag_indices_from(gram)] += self.dropout / (1.0 - self.dropout) * diag
        from threadpoolctl import threadpool_limits

        # The inversion is the one BLAS-bound step: use every core even when the
        # process was started with OPENBLAS_NUM_THREADS=1 for implicit's sake.
        with threadpool_limits(limits=self.blas_threads or os.cpu_count() or 1, user_api="blas"):
            inv = _spd_inverse(gram)
        del gram
        diag = np.diag(inv).copy()
        inv /= -diag[None, :]
        np.fill_diagonal(inv, 0.0)
        self.B = np.ascontiguousarray(inv, dtype=np.float32)

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.B is not None
        out = np.full(prefs.shape, -np.inf, dtype=np.float32)
        if len(self.items):
            sub = prefs[:, self.items]
            out[:, self.items] = np.asarray(sub @ self.B, dtype=np.float32)
        return out

    def contributions(self, prefs_row: sp.csr_matrix, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`ItemKNN.contributions`: (h,) history ids and (r, h) ``x_uj * B[j, i]``."""
        assert self.B is not None
        hist = prefs_row.indices.astype(np.int64)
        hp, ip = self.pos[hist], self.pos[np.asarray(items, np.int64)]
        out = np.zeros((len(items), len(hist)), np.float32)
        hv, iv = hp >= 0, ip >= 0
        if hv.any() and iv.any():
            block = self.B[np.ix_(hp[hv], ip[iv])].T * prefs_row.data[hv][None, :]
            out[np.ix_(np.flatnonzero(iv), np.flatnonzero(hv))] = block
        return hist, out

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.X is not None and self.B is not None
        if self.pos[i] < 0:
            raise PredictionImpossible("song outside the EASE catalogue cap")
        row = self.X[u]
        p = self.pos[row.indices]
        ok = p >= 0
        return float(row.data[ok] @ self.B[p[ok], self.pos[i]])

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.B is not None
        out = np.zeros(self._require().n_songs, np.float32)
        if self.pos[item] >= 0:
            out[self.items] = np.maximum(self.B[:, self.pos[item]], 0.0)
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.B is not None
        return {"B": self.B, "items": self.items}

    def _load_arrays(self, arrays: Any) -> None:
        self.B = np.asarray(arrays["B"], dtype=np.float32)
        self.items = np.asarray(arrays["items"], dtype=np.int64)
        self.pos = np.full(self._require().n_songs, -1, np.int64)
        self.pos[self.items] = np.arange(len(self.items))


# ---------------------------------------------------------------------------------
class ALS(Member):
    """Implicit ALS (Hu, Koren & Volinsky 2008) via ``implicit``'s CPU solver.

    Confidence ``c_ui = alpha * pref_ui`` on played songs (preference 1), 1
    with preference 0 elsewhere; ``pref`` is the configured transform.

    Attributes:
        user_factors: (n_users, factors) float32.
        item_factors: (n_songs, factors) float32.
    """

    name = "als"
    param_names = ("factors", "regularization", "alpha", "iterations", "seed")

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        transform: str | dict[str, Any] = "bm25",
        seed: int = 0,
        num_threads: int = 0,
    ) -> None:
        super().__init__(transform)
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.seed = int(seed)
        self.num_threads = int(num_threads)
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None
        self._yty: np.ndarray | None = None

    def _fit(self, X: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises over users itself; a threaded BLAS underneath it thrashes.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._yty = None

    def warm(self) -> Member:
        super().warm()
        _ = self.yty
        return self

    @property
    def yty(self) -> np.ndarray:
        """(factors, factors) float64 Gram matrix of the item factors (cached)."""
        if self._yty is None:
            assert self.item_factors is not None
            y = self.item_factors.astype(np.float64)
            self._yty = y.T @ y
        return self._yty

    def fold_in(self, prefs: sp.csr_matrix) -> np.ndarray:
        """(b, factors) user vectors of (b, n_songs) CSR preference rows: one ALS user step each.

        Solves ``(Y^T Y + Y_h^T (C_h - 1) Y_h + reg I) x = Y_h^T C_h 1`` (the same
        normal equations implicit solves for a training user).
        """
        assert self.item_factors is not None
        y = self.item_factors
        base = self.yty + self.regularization * np.eye(self.factors)
        out = np.zeros((prefs.shape[0], self.factors), np.float32)
        for r in range(prefs.shape[0]):
            lo, hi = prefs.indptr[r], prefs.indptr[r + 1]
            if hi == lo:
                continue
            yh = y[prefs.indices[lo:hi]].astype(np.float64)
            c = self.alpha * prefs.data[lo:hi].astype(np.float64)
            a = base + (yh.T * (c - 1.0)) @ yh
            out[r] = scipy.linalg.solve(a, yh.T @ c, assume_a="pos")
        return out

    def _score_prefs(self, prefs: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.user_factors is not None and self.item_factors is not None
        vecs = self.user_factors[users] if users is not None else self.fold_in(prefs)
        return np.asarray(vecs @ self.item_factors.T, dtype=np.float32)

    def estimate(self, u: Any, i: Any) -> float:
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        assert self.user_factors is not None and self.item_factors is not None
        return float(self.user_factors[u] @ self.item_factors[i])

    def _similar_scores(self, item: int) -> np.ndarray:
        assert self.item_factors is not None
        norms = np.linalg.norm(self.item_factors, axis=1) + 1e-9
        return np.asarray(self.item_factors @ self.item_factors[item] / (norms * norms[item]), np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.user_factors is not None and self.item_factors is not None
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _load_arrays(self, arrays: Any) -> None:
        self.user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        self._yty = None


MEMBER_CLASSES: dict[str, type[Member]] = {
    "Popularity": Popularity,
    "ItemKNN": ItemKNN,
    "EASE": EASE,
    "ALS": ALS,
}
