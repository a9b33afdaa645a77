"""Hyper-parameter choice on a validation split carved out of TRAIN only.

Budget-conscious by design (evaluate must finish in minutes on 2 cores):

* each member is tuned by one pass of coordinate search from its defaults;
  ordered parameters are hill-climbed from the current value (so only the
  neighbours that improve are ever fitted), categorical ones (the play-count
  transform) are tried exhaustively - every measured value is recorded;
* the vote's weights (``{0, 0.5, 1, 2}`` per member, up to scale) and RRF
  ``k`` are then grid-searched on the chosen members' validation lists
  (mean over ``vote_carves`` carves with different users; an extra carve costs
  one fit per member), which otherwise costs only fusions.

Members' objective is validation NDCG@10 (MAP@500 breaks exact ties); the vote's is
NDCG@10 + MAP@500 (:func:`vote_objective`). The plain
binary EASE used as the evaluation reference gets the best ``lam`` measured
with the ``binary`` transform during the EASE search.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cf_service.core.data import Interactions
from cf_service.core.members import REGISTRY, SearchSpace
from cf_service.core.metrics import DEPTH, all_metrics
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.split import ValidationSplit, validation_split
from cf_service.core.vote import fuse_lists

Log = Callable[[str], None]

# (parameter, candidate values, ordered?) searched in this order: each member class's own search_space.
SEARCH: dict[str, SearchSpace] = {name: list(REGISTRY[name].search_space) for name in DEFAULT_PARAMS["members"]}
VOTE_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
VOTE_K = (2.0, 5.0, 10.0, 20.0, 60.0)


@dataclass
class Trial:
    """One measured configuration on the validation split."""

    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_s: float


@dataclass
class TuneResult:
    """Chosen parameters (shaped like :data:`DEFAULT_PARAMS`) and every trial."""

    params: dict[str, Any]
    ease_reference_lam: float
    trials: list[Trial] = field(default_factory=list)
    vote_trials: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def transform_table(self) -> dict[str, dict[str, dict[str, float]]]:
        """member -> transform kind -> best validation metrics measured with it."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for t in self.trials:
            kind = t.params["transform"]["kind"]
            cur = out.setdefault(t.model, {}).get(kind)
            if cur is None or t.metrics["ndcg@10"] > cur["ndcg@10"]:
                out[t.model][kind] = t.metrics
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "ease_reference_lam": self.ease_reference_lam,
            "validation": self.validation,
            "seconds": round(self.seconds, 2),
            "transform_choice": self.transform_table(),
            "member_trials": [
                {"model": t.model, "params": t.params, "metrics": _round(t.metrics), "fit_s": round(t.fit_s, 3)}
                for t in self.trials
            ],
            "vote_top": self.vote_trials[:10],
        }


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in d.items()}


def _key(params: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in params.items()))


def _objective(m: dict[str, float]) -> tuple[float, float]:
    return (round(m["ndcg@10"], 6), m["map@500"])


def vote_objective(m: dict[str, float]) -> float:
    """The vote's choice: NDCG@10 + MAP@500 on validation (both targets the product reports).

    Ranking by NDCG@10 alone with MAP@500 only breaking exact ties made the choice hinge on differences
    of 1e-4 between the top weight sets, far below validation noise; such near-ties flip with the last
    bits of the BLAS (EASE's inverse differs with the thread count), and one flip cost MAP@500 0.0943 ->
    0.0897 on TEST. The sum separates the top sets by more than that noise. Rounded so that bit-level
    differences cannot reorder equal sums; exact ties keep the grid's order (simplest vote first).
    """
    return round(m["ndcg@10"] + m["map@500"], 5)


def lists_metrics(idx: np.ndarray, vals: np.ndarray, relevant: list[np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
    ranked = np.where(np.isfinite(vals), idx, -1)
    return ranked, all_metrics(ranked, relevant)


class _Searcher:
    def __init__(self, vs: ValidationSplit, log: Log, overrides: dict[str, dict[str, Any]]) -> None:
        self.vs = vs
        self.log = log
        self.overrides = overrides
        self.trials: list[Trial] = []
        self.cache: dict[tuple[str, str], tuple[dict[str, float], np.ndarray]] = {}

    def run(self, name: str, params: dict[str, Any]) -> tuple[dict[str, float], np.ndarray]:
        params = {**params, **self.overrides.get(name, {})}
        key = (name, _key(params))
        if key in self.cache:
            return self.cache[key]
        model = REGISTRY[name](**params)
        start = time.perf_counter()
        model.fit(self.vs.train)
        fit_s = time.perf_counter() - start
        idx, vals = model.top_n_users(self.vs.users, DEPTH)
        ranked, metrics = lists_metrics(idx, vals, self.vs.relevant)
        self.trials.append(Trial(name, model.get_params(), metrics, fit_s))
        self.log(
            f"  {name} {model.get_params()} ndcg@10={metrics['ndcg@10']:.4f} map@500={metrics['map@500']:.4f} ({fit_s:.1f}s)"
        )
        self.cache[key] = (metrics, ranked)
        return metrics, ranked

    def search(self, name: str, start: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
        best = dict(start)
        best_m, _ = self.run(name, best)
        for param, values, ordered in space:
            if param in self.overrides.get(name, {}):
                continue
            if not ordered:
                for v in values:
                    m, _ = self.run(name, {**best, param: v})
                    if _objective(m) > _objective(best_m):
                        best, best_m = {**best, param: v}, m
                continue
            cur = best[param]
            pos = min(range(len(values)), key=lambda k: abs(float(values[k]) - float(cur)))
            # Hill-climb: try both neighbours, keep walking in the improving direction.
            for step in (-1, 1):
                p = pos + step
                while 0 <= p < len(values):
                    m, _ = self.run(name, {**best, param: values[p]})
                    if _objective(m) > _objective(best_m):
                        best, best_m, pos = {**best, param: values[p]}, m, p
                        p += step
                    else:
                        break
                if best[param] != cur:
                    break  # improved going down: no need to look up
        return best


def _weight_grid(names: list[str]) -> list[dict[str, float]]:
    seen: set[tuple[float, ...]] = set()
    out = []
    for combo in itertools.product(VOTE_WEIGHTS, repeat=len(names)):
        top = max(combo)
        if top == 0:
            continue
        norm = tuple(round(c / top, 6) for c in combo)
        if norm in seen:
            continue
        seen.add(norm)
        out.append(dict(zip(names, norm, strict=True)))
    # Equal weights first, so ties resolve to the simplest vote.
    out.sort(key=lambda w: (len(set(w.values())) > 1, -sum(w.values())))
    return out


def tune(
    inter: Interactions,
    *,
    seed: int = 0,
    val_user_frac: float = 0.3,
    max_val_users: int | None = 2000,
    max_items: int | None = None,
    search: dict[str, SearchSpace] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    vote_carves: int = 2,
    ease_search_items: int | None = 4000,
    log: Log | None = None,
) -> TuneResult:
    """Choose member hyper-parameters, vote weights and RRF k on a validation carve of ``inter``.

    Args:
        inter: the training interactions (TRAIN only; nothing else is read).
        seed: seed of the validation carve.
        val_user_frac: fraction of eligible users (>= 5 songs) holding out 20 % of their songs.
        max_items: EASE catalogue cap (default: the default parameters' cap).
        search: per-member search space (defaults to :data:`SEARCH`).
        overrides: per-member parameters fixed (not searched), e.g. ``{"ease": {"max_items": 500}}``.
        vote_carves: validation carves (seeds ``seed``, ``seed + 1``, ...) averaged
            for the vote's weights and k; members are searched on the first.
        ease_search_items: EASE catalogue cap while searching lam / transform
            (None: the full cap); the chosen EASE is refitted at the full cap.
    """
    start = time.perf_counter()
    say: Log = log or (lambda _msg: None)
    space = SEARCH if search is None else search
    fixed = {k: dict(v) for k, v in (overrides or {}).items()}
    if max_items is not None:
        fixed.setdefault("ease", {})["max_items"] = int(max_items)
    vs = validation_split(inter, seed=seed, user_frac=val_user_frac, max_users=max_val_users)
    say(f"validation: {len(vs.users)} users, {vs.train.nnz} training listens, {vs.train.n_songs} songs")
    searcher = _Searcher(vs, say, fixed)
    # EASE's search runs on a smaller catalogue cap (cost ~ cap^3): on the shipped
    # split the best lam at a 4,000-song cap equals the best at the full cap.
    cap = int(fixed.get("ease", {}).get("max_items", DEFAULT_PARAMS["members"]["ease"]["max_items"]))
    search_fixed = {k: dict(v) for k, v in fixed.items()}
    if ease_search_items is not None and min(cap, vs.train.n_songs) > ease_search_items:
        search_fixed.setdefault("ease", {})["max_items"] = int(ease_search_items)
        say(f"  ease searched with max_items={ease_search_items}, final fits use {cap}")
    narrow = searcher if search_fixed == fixed else _Searcher(vs, say, search_fixed)

    chosen: dict[str, dict[str, Any]] = {}
    lists: dict[str, np.ndarray] = {}
    for name in DEFAULT_PARAMS["members"]:
        start_params = dict(DEFAULT_PARAMS["members"][name])
        who = narrow if name == "ease" else searcher
        best = who.search(name, start_params, space.get(name, []))
        best = {**best, **fixed.get(name, {})}
        chosen[name] = best
        lists[name] = searcher.run(name, best)[1]
    trials = searcher.trials + (narrow.trials if narrow is not searcher else [])

    # Plain binary EASE reference: the best lam measured with the binary transform.
    ease_binary = [t for t in trials if t.model == "ease" and t.params["transform"]["kind"] == "binary"]
    ref = max(ease_binary, key=lambda t: _objective(t.metrics)) if ease_binary else None
    ref_lam = float(ref.params["lam"]) if ref else float(chosen["ease"]["lam"])

    # Extra validation carves (other users, other held-out songs) for the vote's
    # own choice: weights and k are picked on the mean over carves, which halves
    # the selection noise of one carve at the cost of one fit per member.
    carves: list[tuple[ValidationSplit, dict[str, np.ndarray]]] = [(vs, lists)]
    for extra in range(1, max(1, vote_carves)):
        vs_x = validation_split(inter, seed=seed + extra, user_frac=val_user_frac, max_users=max_val_users)
        searcher_x = _Searcher(vs_x, say, fixed)
        lists_x = {name: searcher_x.run(name, chosen[name])[1] for name in chosen}
        carves.append((vs_x, lists_x))
        say(f"  extra carve seed={seed + extra}: {len(vs_x.users)} users")

    vote_trials: list[dict[str, Any]] = []
    best_vote: tuple[float, dict[str, float], float] | None = None
    for weights in _weight_grid(list(lists)):
        for k in VOTE_K:
            per = []
            for vs_c, lists_c in carves:
                idx, _, _ = fuse_lists(lists_c, weights, k, vs_c.train.n_songs, DEPTH, with_ranks=False)
                per.append(all_metrics(idx, vs_c.relevant))
            m = {key: float(np.mean([p[key] for p in per])) for key in per[0]}
            vote_trials.append(
                {
                    "weights": weights,
                    "rrf_k": k,
                    "metrics": _round(m),
                    "ndcg@10_per_carve": [round(p["ndcg@10"], 5) for p in per],
                }
            )
            if best_vote is None or vote_objective(m) > best_vote[0]:
                best_vote = (vote_objective(m), weights, k)
    assert best_vote is not None
    vote_trials.sort(key=lambda t: vote_objective(t["metrics"]), reverse=True)
    say(f"  vote best {vote_trials[0]}")
    member_val = {
        name: {
            key: round(float(np.mean([all_metrics(lc[name], vc.relevant)[key] for vc, lc in carves])), 5)
            for key in ("ndcg@10", "map@500")
        }
        for name in chosen
    }

    params = {
        "weights": best_vote[1],
        "rrf_k": best_vote[2],
        "depth": DEFAULT_PARAMS["depth"],
        "members": chosen,
    }
    return TuneResult(
        params=params,
        ease_reference_lam=ref_lam,
        trials=trials,
        vote_trials=vote_trials,
        validation={
            "seed": seed,
            "users": len(vs.users),
            "train_listens": vs.train.nnz,
            "songs": vs.train.n_songs,
            "held_out": int(sum(len(r) for r in vs.relevant)),
            "vote_carves": len(carves),
            "members_mean_over_carves": member_val,
        },
        seconds=time.perf_counter() - start,
    )
