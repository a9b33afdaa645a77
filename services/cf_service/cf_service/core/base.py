"""The one interface every collaborative-filtering model implements, and the thin surprise adapter.

Id spaces:

* **raw ids** are the MSD's strings (user ids, ``SO...`` song ids); every method
  a service calls (:meth:`Recommender.recommend`, :meth:`~Recommender.recommend_for_history`,
  :meth:`~Recommender.similar_items`, :meth:`~Recommender.popular`) takes and returns raw ids;
* **inner ids** are row / column positions in the training :class:`Interactions`
  (``0 <= u < n_users``, ``0 <= i < n_songs``); the batch methods that evaluation,
  tuning and precomputation use (:meth:`~Recommender.top_n_users`,
  :meth:`~Recommender.top_n_history`) work in inner ids. Conversion happens only
  through :attr:`Interactions.user_index` / :attr:`Interactions.song_index` and
  :attr:`Interactions.songs`.

The vote is built in scikit-surprise's framework: :class:`SurpriseAlgo` is the
``AlgoBase`` layer (``fit(trainset)``, ``estimate(u, i)``, ``predict``) and
nothing else; ranking never goes through it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
from surprise import AlgoBase, Trainset

from cf_service.core.data import Interactions, as_interactions, from_trainset, to_trainset
from cf_service.core.ranking import Recommendations, RecommendedSong, SimilarSong, SimilarSongs, top_n

History = Sequence[tuple[str, float]]
"""A listener's history as raw ``(song_id, play_count)`` pairs."""


class Recommender(ABC):
    """A fitted model that ranks songs for listeners and songs for songs.

    Attributes (after :meth:`fit` or :meth:`load`):
        inter: the training :class:`Interactions` (raw play counts and raw id arrays).
        popularity: (n_songs,) float32 number of listeners of each song (inner ids).
        fit_seconds: wall time of the last fit.
    """

    name: ClassVar[str] = "recommender"

    inter: Interactions | None
    popularity: np.ndarray | None
    fit_seconds: float

    # --- fitting and persistence ------------------------------------------------
    @abstractmethod
    def fit(self, data: Any) -> Recommender:
        """Fit on a surprise ``Trainset``, :class:`Interactions`, listens frame or path(s); returns self."""

    @abstractmethod
    def save(self, directory: str | Path, include_data: bool = True) -> Path:
        """Write the fitted model into ``directory`` (``.json`` + ``.npz`` only); returns the folder."""

    @classmethod
    @abstractmethod
    def load(cls, directory: str | Path, inter: Interactions | None = None) -> Recommender:
        """Read a model :meth:`save` wrote (``inter`` given when it was saved without its data)."""

    def warm(self) -> Recommender:
        """Build lazy caches (id maps, transposes) now, so the first request is not slow."""
        inter = self.interactions
        _ = inter.user_index, inter.song_index
        return self

    def get_params(self) -> dict[str, Any]:
        """JSON-able hyper-parameters."""
        return {}

    @property
    def interactions(self) -> Interactions:
        """The training interactions; raises RuntimeError before fit/load."""
        return self._require()

    def _require(self) -> Interactions:
        if self.inter is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self.inter

    # --- inner-id batch interface ---------------------------------------------
    @abstractmethod
    def top_n_users(self, users: np.ndarray, n: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of known users.

        Args:
            users: (b,) int64 inner user ids.
        Returns:
            ``(idx, scores)``: (b, n) int64 inner song ids and (b, n) float32 scores; ``-inf`` marks padding.
        """

    @abstractmethod
    def top_n_history(
        self, counts: Any, n: int, exclude_seen: bool = True, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of unseen listeners from (b, n_songs) CSR play counts; same shapes as :meth:`top_n_users`.

        ``within``: an optional (n_songs,) bool mask; songs outside it are never listed.
        """

    # --- raw-id interface -------------------------------------------------------
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

    @abstractmethod
    def recommend_many(self, users: Sequence[str], n: int = 10, exclude_seen: bool = True) -> list[Recommendations]:
        """Batch form of :meth:`recommend` (one vectorised pass over the known users)."""

    @abstractmethod
    def recommend_for_history(
        self, history: History, n: int = 10, exclude_seen: bool = True, within: Sequence[str] | None = None
    ) -> Recommendations:
        """Top-n for a listener the model has not seen (fold-in), from raw ``(song_id, play_count)`` pairs.

        Songs outside the catalogue are ignored (counted in ``unknown_songs``); an
        empty or fully unknown history gets ``fallback="popular"``. ``within`` (raw song ids) restricts the
        list to those songs (e.g. the ones a listener can play); ids the model does not know are ignored.
        """

    @abstractmethod
    def similar_items(self, song_id: str, n: int = 10, within: Sequence[str] | None = None) -> SimilarSongs:
        """Songs most similar to a raw song id (only ``within`` ones when given); an unknown song gets popular
        songs with ``fallback="popular"``."""

    def within_mask(self, within: Sequence[str] | None) -> np.ndarray | None:
        """(n_songs,) bool mask of the raw song ids in ``within`` (None: no restriction)."""
        if within is None:
            return None
        inter = self.interactions
        mask = np.zeros(inter.n_songs, bool)
        rows = [j for j in (inter.song_index.get(str(s)) for s in within) if j is not None]
        mask[rows] = True
        return mask

    def popular(self, n: int = 10, exclude: Sequence[str] = (), within: Sequence[str] | None = None) -> Recommendations:
        """The ``n`` most-listened songs (optionally excluding raw song ids, only ``within`` ones),
        ``fallback="popular"``."""
        inter = self.interactions
        if self.popularity is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        scores = self.popularity[None, :].astype(np.float32).copy()
        mask = self.within_mask(within)
        if mask is not None:
            scores[0, ~mask] = -np.inf
        for s in exclude:
            j = inter.song_index.get(str(s))
            if j is not None:
                scores[0, j] = -np.inf
        idx, vals = top_n(scores, n)
        return self.ranked_list(None, idx[0], vals[0], "popular")

    def popular_similar(self, song_id: str, n: int, within: Sequence[str] | None = None) -> SimilarSongs:
        """The answer to :meth:`similar_items` for a song the model does not know."""
        pop = self.popular(n, within=within)
        items = [SimilarSong(it.song_id, it.score, it.rank) for it in pop.items]
        return SimilarSongs(str(song_id), items, self.name, "popular")

    def ranked_list(
        self, user_id: str | None, idx: np.ndarray, vals: np.ndarray, fallback: str | None
    ) -> Recommendations:
        """Raw-id :class:`Recommendations` from (n,) inner ids and (n,) scores (``-inf`` entries dropped)."""
        inter = self.interactions
        keep = np.isfinite(vals)
        items = [
            RecommendedSong(song_id=str(inter.songs[i]), score=float(s), rank=r + 1)
            for r, (i, s) in enumerate(zip(idx[keep].tolist(), vals[keep].tolist(), strict=True))
        ]
        return Recommendations(user_id=user_id, items=items, model=self.name, fallback=fallback)


class SurpriseAlgo(AlgoBase):  # type: ignore[misc]
    """scikit-surprise's side of a model: ``fit(trainset)``, ``estimate(u, i)`` and ``predict`` work.

    The ``Trainset`` is built lazily from ``inter`` (e.g. after a load), so models
    fitted on :class:`Interactions` pay for it only if surprise's API is used.
    """

    inter: Interactions | None

    def __init__(self) -> None:
        AlgoBase.__init__(self)
        self._trainset: Trainset | None = None

    @property
    def trainset(self) -> Trainset:
        """surprise Trainset; rebuilt lazily from ``inter``."""
        if self._trainset is None and self.inter is not None:
            self._trainset = to_trainset(self.inter)
        return self._trainset

    @trainset.setter
    def trainset(self, value: Trainset | None) -> None:
        self._trainset = value

    def surprise_input(self, data: Any) -> Interactions:
        """Run surprise's own ``fit`` bookkeeping and return the data as :class:`Interactions`."""
        if isinstance(data, Trainset):
            AlgoBase.fit(self, data)
            return from_trainset(data)
        AlgoBase.fit(self, None)  # the Trainset is built lazily if surprise's API is used
        return as_interactions(data)
