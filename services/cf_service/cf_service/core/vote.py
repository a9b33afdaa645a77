"""The vote: weighted reciprocal-rank fusion of the members' top-N lists.

``score(i) = sum_m w_m / (k + rank_m(i))`` over the members ``m`` whose
top-``depth`` list contains song ``i`` (ranks start at 1). Weights and ``k``
are chosen on a validation split carved out of the training data
(:mod:`cf_service.core.tuning`).

Every recommended song keeps its per-member ranks (``None`` when the member
did not list it) and the three history songs that contributed most to it in
the neighbourhood members (``x_uj * N[i, j]`` for item-kNN, ``x_uj * B[j, i]``
for EASE), so the UI can say "because you played X".
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from surprise import PredictionImpossible

from cf_service.core.base import History, Recommender, SurpriseAlgo
from cf_service.core.data import Interactions
from cf_service.core.members import BATCH, EASE, REGISTRY, ItemKNN, Member, load_member, savez
from cf_service.core.members.base import load_interactions
from cf_service.core.ranking import (
    Because,
    Recommendations,
    RecommendedSong,
    SimilarSong,
    SimilarSongs,
    top_n,
)

DEFAULT_DEPTH = 500  # members' list length; MAP@500 needs 500 fused songs


def fuse_lists(
    lists: dict[str, np.ndarray],
    weights: dict[str, float],
    rrf_k: float,
    n_items: int,
    n: int,
    with_ranks: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Weighted reciprocal-rank fusion of ranked lists, over the listed songs only.

    The cost grows with ``b * depth`` (the candidates), never with ``b * n_items``: the (row, song) pairs of every
    list are summed by key, then each row's best ``n`` are taken from its own candidates.

    Args:
        lists: member name -> (b, d) int64 ranked inner song ids, best first, -1 pads.
        weights: member name -> weight (members absent or weight 0 are ignored
            for scores but still report ranks).
        rrf_k: the RRF constant ``k``.
        n_items: catalogue size.
        n: fused list length.
        with_ranks: also report per-member ranks (tuning skips them).

    Returns:
        ``(idx, scores, ranks)``: (b, n) fused ids (-1 pads), (b, n) float32
        fused scores (``-inf`` pads), and member -> (b, n) int32 1-based rank of each fused song
        in that member's list (0 when absent). Ties are broken by song id, ascending.
    """
    names = list(lists)
    b = next(iter(lists.values())).shape[0] if lists else 0
    out_idx = np.full((b, n), -1, np.int64)
    out_scores = np.full((b, n), -np.inf, np.float32)
    ranks: dict[str, np.ndarray] = {name: np.zeros((b, n), np.int32) for name in names} if with_ranks else {}
    keys_parts, vals_parts, rank_parts = [], [], []
    for name in names:
        w = float(weights.get(name, 0.0))
        idx = lists[name]
        if (w <= 0 and not with_ranks) or idx.size == 0:
            continue
        contrib = (max(w, 0.0) / (rrf_k + np.arange(1, idx.shape[1] + 1, dtype=np.float64))).astype(np.float32)
        r, c = np.nonzero(idx >= 0)
        keys_parts.append(r.astype(np.int64) * n_items + idx[r, c])
        vals_parts.append(contrib[c])
        rank_parts.append((name, (c + 1).astype(np.int32)))
    if not keys_parts:
        return out_idx, out_scores, ranks
    keys, inverse = np.unique(np.concatenate(keys_parts), return_inverse=True)  # sorted: by row, then song
    # float32 sums in member order, as a dense (b, n_items) array would add them (a song appears at most once
    # in one member's row, so each member's += has no repeated index).
    sums = np.zeros(len(keys), np.float32)
    member_rank = {}
    lo = 0
    for vals, (name, rank) in zip(vals_parts, rank_parts, strict=True):
        at = inverse[lo : lo + len(vals)]
        sums[at] += vals
        member_rank[name] = (at, rank)
        lo += len(vals)
    cand = np.flatnonzero(sums > 0)  # listed by no weighted member: not a candidate
    if not len(cand):
        return out_idx, out_scores, ranks
    rows = keys[cand] // n_items
    counts = np.bincount(rows, minlength=b)
    # Each row's candidates side by side in a (b, max candidates) block, songs ascending, so the row-wise top_n
    # breaks ties by song id.
    col = np.arange(len(cand)) - np.concatenate([[0], np.cumsum(counts)])[rows]
    block = np.full((b, int(counts.max())), -np.inf, np.float32)
    which = np.zeros(block.shape, np.int64)
    block[rows, col] = sums[cand]
    which[rows, col] = cand
    pos, top = top_n(block, n)
    chosen = np.take_along_axis(which, pos, axis=1)
    got = np.isfinite(top)
    width = top.shape[1]
    out_idx[:, :width] = np.where(got, keys[chosen] % n_items, -1)
    out_scores[:, :width] = top
    for name, (at, rank) in member_rank.items() if with_ranks else ():
        rank_of = np.zeros(len(keys), np.int32)
        rank_of[at] = rank
        ranks[name][:, :width] = np.where(got, rank_of[chosen], 0)
    return out_idx, out_scores, ranks


class RankFusionVote(SurpriseAlgo, Recommender):
    """Weighted RRF over the members it holds; a :class:`Recommender` itself.

    Attributes:
        members: name -> fitted :class:`Member` (``itemknn``, ``ease``, ``als`` by default).
        weights: name -> RRF weight.
        rrf_k: the RRF constant.
        depth: each member's list length before fusion.
        meta: free-form metadata (version, trained_at, hyper-parameter source...).
    """

    name = "vote"

    def __init__(
        self,
        members: dict[str, Member] | None = None,
        weights: dict[str, float] | None = None,
        rrf_k: float = 5.0,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        SurpriseAlgo.__init__(self)
        self.inter: Interactions | None = None
        self.popularity: np.ndarray | None = None
        self.fit_seconds = 0.0
        self.members: dict[str, Member] = members if members is not None else default_members()
        self.weights = {name: 1.0 for name in self.members} if weights is None else dict(weights)
        self.rrf_k = float(rrf_k)
        self.depth = int(depth)
        self.meta: dict[str, Any] = {}

    def get_params(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "rrf_k": self.rrf_k,
            "depth": self.depth,
            "members": {name: {"class": type(m).__name__, **m.get_params()} for name, m in self.members.items()},
        }

    # --- fitting -----------------------------------------------------------------
    def fit(self, data: Any, progress: Any = None) -> RankFusionVote:
        """Fit every member on the same data (a Trainset is shared, not rebuilt).

        ``progress`` is an optional callable ``(member_name) -> None`` (e.g. a tqdm update).
        """
        start = time.perf_counter()
        inter = self.surprise_input(data)
        self.attach(inter)
        for name, member in self.members.items():
            # A Trainset is handed on as it is (surprise's framework); anything else once converted.
            member.fit(self._trainset if self._trainset is not None else inter)
            if progress is not None:
                progress(name)
        self.fit_seconds = time.perf_counter() - start
        return self

    def attach(self, inter: Interactions) -> None:
        """Take ``inter`` as the training data (the members are fitted or loaded on the same)."""
        self.inter = inter
        self.popularity = inter.song_listeners().astype(np.float32)

    def warm(self) -> RankFusionVote:
        """Build every member's lazy caches (call once after load, before serving)."""
        super().warm()
        for member in self.members.values():
            member.warm()
        return self

    # --- ranking -------------------------------------------------------------------
    def member_lists(
        self,
        users: np.ndarray | None = None,
        counts: sp.csr_matrix | None = None,
        depth: int | None = None,
        within: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Each member's top-``depth`` (b, depth) ids (-1 pads) for known users or fold-in counts (``within``:
        an optional (n_songs,) bool mask, fold-in only)."""
        depth = self.depth if depth is None else depth
        out = {}
        for name, member in self.members.items():
            if users is not None:
                idx, vals = member.top_n_users(users, depth, exclude_seen=True)
            else:
                assert counts is not None
                idx, vals = member.top_n_history(counts, depth, exclude_seen=True, within=within)
            out[name] = np.where(np.isfinite(vals), idx, -1)
        return out

    def fused(
        self, users: np.ndarray | None, counts: sp.csr_matrix | None, n: int, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Fused top-n of known users (``users``: (b,) inner ids) or of fold-in ``counts`` ((b, n_songs) CSR).

        Returns:
            ``(idx, scores, ranks)`` as :func:`fuse_lists`: (b, n) inner ids (-1 pads), (b, n) scores and
            member -> (b, n) 1-based ranks (0 when the member did not list the song).
        """
        inter = self.interactions
        depth = max(self.depth, n)
        b = len(users) if users is not None else (counts.shape[0] if counts is not None else 0)
        parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []
        for lo in range(0, b, BATCH):
            u = users[lo : lo + BATCH] if users is not None else None
            c = counts[lo : lo + BATCH] if counts is not None else None
            lists = self.member_lists(u, c, depth, within)
            parts.append(fuse_lists(lists, self.weights, self.rrf_k, inter.n_songs, n))
        if not parts:
            return (
                np.zeros((0, n), np.int64),
                np.zeros((0, n), np.float32),
                {k: np.zeros((0, n), np.int32) for k in self.members},
            )
        idx = np.vstack([p[0] for p in parts])
        scores = np.vstack([p[1] for p in parts])
        ranks = {k: np.vstack([p[2][k] for p in parts]) for k in self.members}
        return idx, scores, ranks

    def top_n_users(self, users: np.ndarray, n: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Fused top-n of known users: (b, n) ids and (b, n) scores (``-inf`` pads).

        Members always exclude seen songs; ``exclude_seen=False`` is not supported
        by rank fusion and is ignored.
        """
        idx, scores, _ = self.fused(np.asarray(users, np.int64), None, n)
        return np.maximum(idx, 0), np.where(idx >= 0, scores, -np.inf)

    def top_n_history(
        self, counts: sp.csr_matrix, n: int, exclude_seen: bool = True, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        idx, scores, _ = self.fused(None, counts, n, within)
        return np.maximum(idx, 0), np.where(idx >= 0, scores, -np.inf)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """(b, n_songs) float32 fused scores (0 outside every member's top-depth list)."""
        inter = self.interactions
        idx, scores, _ = self.fused(np.asarray(users, np.int64), None, self.depth)
        out = np.zeros((len(users), inter.n_songs), np.float32)
        r, c = np.nonzero(idx >= 0)
        out[r, idx[r, c]] = scores[r, c]
        return out

    def estimate(self, u: Any, i: Any) -> float:
        """Fused RRF score of inner song ``i`` for inner user ``u`` (0 if unlisted)."""
        if not (self.trainset.knows_user(u) and self.trainset.knows_item(i)):
            raise PredictionImpossible("User and/or item is unknown.")
        return float(self.score_users(np.asarray([u]))[0, i])

    # --- explanations ---------------------------------------------------------------
    def _because(self, prefs_by_member: dict[str, sp.csr_matrix], items: np.ndarray) -> list[list[Because]]:
        """Top-3 history songs behind each of (r,) recommended inner ids."""
        inter = self.interactions
        total: np.ndarray | None = None
        hist: np.ndarray | None = None
        for name, member in self.members.items():
            if not isinstance(member, (ItemKNN, EASE)) or name not in prefs_by_member:
                continue
            h, contrib = member.contributions(prefs_by_member[name], items)
            contrib = np.maximum(contrib, 0.0)
            sums = contrib.sum(axis=1, keepdims=True)
            share = np.divide(contrib, sums, out=np.zeros_like(contrib), where=sums > 0)
            w = max(float(self.weights.get(name, 0.0)), 1e-3)
            total = share * w if total is None else total + share * w
            hist = h
        out: list[list[Because]] = [[] for _ in range(len(items))]
        if total is None or hist is None or total.size == 0:
            return out
        norm = total.sum(axis=1, keepdims=True)
        total = np.divide(total, norm, out=np.zeros_like(total), where=norm > 0)
        for r in range(len(items)):
            order = np.argsort(-total[r], kind="stable")[:3]
            out[r] = [
                Because(str(inter.songs[hist[j]]), round(float(total[r, j]), 4)) for j in order if total[r, j] > 0
            ]
        return out

    def _detailed(
        self,
        user_id: str | None,
        idx: np.ndarray,
        scores: np.ndarray,
        ranks: dict[str, np.ndarray],
        counts_row: sp.csr_matrix,
    ) -> Recommendations:
        inter = self.interactions
        keep = idx >= 0
        items_ids = idx[keep]
        prefs = {
            name: m.transform.apply(counts_row) for name, m in self.members.items() if isinstance(m, (ItemKNN, EASE))
        }
        reasons = self._because(prefs, items_ids) if len(items_ids) else []
        items = []
        for r, (i, s) in enumerate(zip(items_ids.tolist(), scores[keep].tolist(), strict=True)):
            member_ranks: dict[str, int | None] = {}
            for name in self.members:
                v = int(ranks[name][keep][r])
                member_ranks[name] = v if v > 0 else None
            items.append(
                RecommendedSong(str(inter.songs[i]), float(s), r + 1, member_ranks=member_ranks, because=reasons[r])
            )
        return Recommendations(user_id=user_id, items=items, model=self.name)

    # --- raw-id interface ------------------------------------------------------------
    def recommend_many(self, users: Sequence[str], n: int = 10, exclude_seen: bool = True) -> list[Recommendations]:
        """Fused top-n with per-member ranks and reasons; unknown users -> ``fallback="popular"``."""
        inter = self.interactions
        inner = [inter.user_index.get(u) for u in users]
        known = np.asarray([v for v in inner if v is not None], np.int64)
        fused = self.fused(known, None, n) if len(known) else None
        results: list[Recommendations] = []
        row = 0
        for user, v in zip(users, inner, strict=True):
            if v is None or fused is None:
                pop = self.popular(n)
                pop.user_id = user
                results.append(pop)
                continue
            idx, scores, ranks = fused
            results.append(
                self._detailed(user, idx[row], scores[row], {m: r[row] for m, r in ranks.items()}, inter.counts[[v]])
            )
            row += 1
        return results

    def recommend_for_history(
        self, history: History, n: int = 10, exclude_seen: bool = True, within: Sequence[str] | None = None
    ) -> Recommendations:
        """Fold-in: fused top-n for ``(song_id, play_count)`` pairs of an unseen user (only ``within`` songs)."""
        inter = self.interactions
        counts, unknown = inter.history_matrix([history])
        if counts.nnz == 0:
            res = self.popular(n, exclude=[s for s, _ in history], within=within)
            res.unknown_songs = unknown
            return res
        idx, scores, ranks = self.fused(None, counts, n, self.within_mask(within))
        res = self._detailed(None, idx[0], scores[0], {m: r[0] for m, r in ranks.items()}, counts)
        res.unknown_songs = unknown
        return res

    def similar_items(self, song_id: str, n: int = 10, within: Sequence[str] | None = None) -> SimilarSongs:
        """RRF of the members' similar-song lists (only ``within`` songs); unknown song -> popular with a flag."""
        inter = self.interactions
        j = inter.song_index.get(str(song_id))
        if j is None:
            return self.popular_similar(song_id, n, within)
        depth = max(n, 100)
        lists = {}
        for name, member in self.members.items():
            sims = member.similar_items(song_id, depth, within)
            ids = [inter.song_index[s] for s in sims.song_ids]
            row = np.full((1, depth), -1, np.int64)
            row[0, : len(ids)] = ids
            lists[name] = row
        idx, scores, _ = fuse_lists(lists, self.weights, self.rrf_k, inter.n_songs, n)
        keep = idx[0] >= 0
        items = [
            SimilarSong(str(inter.songs[i]), float(s), r + 1)
            for r, (i, s) in enumerate(zip(idx[0][keep].tolist(), scores[0][keep].tolist(), strict=True))
        ]
        return SimilarSongs(str(song_id), items, self.name, None)

    def neighbours(self, n: int = 50, songs: range | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(s, n) most co-listened songs of the inner ids ``songs`` (every song when None; item-kNN rows), -1 pads,
        and their (s, n) weights."""
        knn = next((m for m in self.members.values() if isinstance(m, ItemKNN)), None)
        inter = self.interactions
        rows = range(inter.n_songs) if songs is None else songs
        if knn is None or knn.N is None:
            return np.full((len(rows), 0), -1, np.int64), np.zeros((len(rows), 0), np.float32)
        nn = knn.N
        idx = np.full((len(rows), n), -1, np.int64)
        val = np.zeros((len(rows), n), np.float32)
        for r, i in enumerate(rows):
            lo, hi = nn.indptr[i], nn.indptr[i + 1]
            if hi == lo:
                continue
            d, c = nn.data[lo:hi], nn.indices[lo:hi]
            order = np.lexsort((c, -d))[:n]
            idx[r, : len(order)] = c[order]
            val[r, : len(order)] = d[order]
        return idx, val

    # --- persistence ---------------------------------------------------------------------
    def save(self, directory: str | Path, include_data: bool = True) -> Path:
        """``vote.json`` + ``interactions.npz`` + one sub-folder per member (no data copies)."""
        inter = self.interactions
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "class": type(self).__name__,
            "weights": self.weights,
            "rrf_k": self.rrf_k,
            "depth": self.depth,
            "members": list(self.members),
            "fit_seconds": self.fit_seconds,
            "n_users": inter.n_users,
            "n_songs": inter.n_songs,
            "n_listens": inter.nnz,
            "meta": self.meta,
        }
        (out / "vote.json").write_text(json.dumps(meta, indent=1))
        if include_data:
            savez(out / "interactions.npz", inter.to_arrays())
        for name, member in self.members.items():
            member.save(out / "members" / name, include_data=False)
        return out

    @classmethod
    def load(cls, directory: str | Path, inter: Interactions | None = None) -> RankFusionVote:
        path = Path(directory)
        meta = json.loads((path / "vote.json").read_text())
        if inter is None:
            inter = load_interactions(path / "interactions.npz")
        members = {name: load_member(path / "members" / name, inter) for name in meta["members"]}
        vote = cls(members, meta["weights"], meta["rrf_k"], meta["depth"])
        vote.attach(inter)
        vote.fit_seconds = float(meta.get("fit_seconds", 0.0))
        vote.meta = dict(meta.get("meta", {}))
        return vote


def default_members(params: dict[str, dict[str, Any]] | None = None) -> dict[str, Member]:
    """The three members with :data:`DEFAULT_PARAMS` (overridden by ``params``)."""
    from cf_service.core.params import DEFAULT_PARAMS

    merged = {k: dict(v) for k, v in DEFAULT_PARAMS["members"].items()}
    for name, p in (params or {}).items():
        merged.setdefault(name, {}).update({k: v for k, v in p.items() if k != "class"})
    return {name: REGISTRY[name](**p) for name, p in merged.items()}


def build_vote(params: dict[str, Any] | None = None) -> RankFusionVote:
    """An unfitted vote from a params dict shaped like :data:`DEFAULT_PARAMS`."""
    from cf_service.core.params import DEFAULT_PARAMS

    p = dict(DEFAULT_PARAMS)
    if params:
        p.update({k: v for k, v in params.items() if k != "members"})
    members = default_members((params or {}).get("members"))
    weights = {k: float(v) for k, v in p["weights"].items() if k in members}
    return RankFusionVote(members, weights, float(p["rrf_k"]), int(p.get("depth", DEFAULT_DEPTH)))
