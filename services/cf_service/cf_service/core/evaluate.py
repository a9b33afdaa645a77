"""Offline evaluation: TRAIN -> tuned models -> ranking metrics on TEST.

Protocol (:func:`evaluate`):

* models see TRAIN only; hyper-parameters are chosen on a validation carve of
  TRAIN (:func:`cf_service.core.tuning.tune`), never on TEST;
* for each test user, every TRAIN song except the user's TRAIN songs is a
  candidate; held-out songs absent from TRAIN are dropped and users left with
  none (or absent from TRAIN) are skipped;
* NDCG@10, Recall@20, Recall@50, MAP@500 (:mod:`cf_service.core.metrics`)
  averaged over users, with each model's fit and scoring wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cf_service.core.baselines.seedvote import SeedVote
from cf_service.core.data import Interactions, as_interactions, read_frame
from cf_service.core.members import EASE, Member, Popularity
from cf_service.core.metrics import DEPTH, all_metrics
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.tuning import TuneResult, tune
from cf_service.core.vote import RankFusionVote, build_vote

Log = Callable[[str], None]

MEMBER_LABELS = {"itemknn": "member-itemknn", "ease": "member-ease", "als": "member-als"}


def test_relevance(train: Interactions, test: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray], dict[str, int]]:
    """Map TEST rows onto TRAIN's inner ids.

    Returns:
        ``(users, relevant, info)``: (b,) inner ids of evaluated users, their b
        arrays of held-out inner song ids, and counts of what was dropped.
    """
    uidx, sidx = train.user_index, train.song_index
    u = test["user_id"].astype(str).map(uidx)
    s = test["song_id"].astype(str).map(sidx)
    ok = u.notna() & s.notna()
    frame = pd.DataFrame({"u": u[ok].astype(np.int64), "s": s[ok].astype(np.int64)}).drop_duplicates()
    groups = frame.groupby("u")["s"].apply(lambda x: np.sort(x.to_numpy()))
    users = groups.index.to_numpy(dtype=np.int64)
    relevant = [np.asarray(v, np.int64) for v in groups.tolist()]
    info = {
        "test_rows": len(test),
        "test_users": int(test["user_id"].nunique()),
        "rows_song_not_in_train": int((u.notna() & s.isna()).sum()),
        "rows_user_not_in_train": int(u.isna().sum()),
        "users_skipped": int(test["user_id"].nunique() - len(users)),
    }
    return users, relevant, info


def _rank(model: Any, users: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    idx, vals = model.top_n_users(users, DEPTH)
    ranked = np.where(np.isfinite(vals), idx, -1)
    return ranked, time.perf_counter() - start


def _entry(metrics: dict[str, float], fit_s: float, score_s: float, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {k: round(float(v), 5) for k, v in metrics.items()}
    out["fit_s"] = round(fit_s, 3)
    out["score_s"] = round(score_s, 3)
    out.update(extra)
    return out


def evaluate(
    train: Any,
    test: Any,
    *,
    seed: int = 0,
    do_tune: bool = True,
    params: dict[str, Any] | None = None,
    tune_kwargs: dict[str, Any] | None = None,
    seed_vote: bool = True,
    log: Log | None = None,
) -> dict[str, Any]:
    """Run the whole protocol; returns the JSON-able results dict.

    Args:
        train: TRAIN as a path, frame, Listens or :class:`Interactions`.
        test: TEST as a path or frame (``user_id, song_id, play_count``).
        do_tune: tune on a validation carve of TRAIN (else use ``params`` or defaults).
        tune_kwargs: extra arguments of :func:`cf_service.core.tuning.tune`.
    """
    total = time.perf_counter()
    say: Log = log or (lambda _msg: None)
    inter = as_interactions(train)
    test_frame = read_frame(test) if isinstance(test, (str, Path)) else test
    users, relevant, info = test_relevance(inter, test_frame)
    say(f"TRAIN: {inter.n_users} users, {inter.n_songs} songs, {inter.nnz} listens; evaluating {len(users)} test users")

    tuned: TuneResult | None = None
    if do_tune:
        say("tuning on a validation split of TRAIN")
        tuned = tune(inter, seed=seed, log=say, **(tune_kwargs or {}))
        chosen = tuned.params
        ref_lam = tuned.ease_reference_lam
    else:
        chosen = params or DEFAULT_PARAMS
        ref_lam = float(chosen["members"]["ease"]["lam"])

    models: dict[str, dict[str, Any]] = {}

    vote = build_vote(chosen)
    vote.fit(inter)
    say(f"vote fitted in {vote.fit_seconds:.1f}s")
    ranked, score_s = _rank(vote, users)
    models["vote"] = _entry(all_metrics(ranked, relevant), vote.fit_seconds, score_s)

    member_ease: Member | None = None
    for name, member in vote.members.items():
        ranked, score_s = _rank(member, users)
        models[MEMBER_LABELS.get(name, name)] = _entry(
            all_metrics(ranked, relevant), member.fit_seconds, score_s, params=member.get_params()
        )
        if name == "ease":
            member_ease = member

    pop = Popularity().fit(inter)
    ranked, score_s = _rank(pop, users)
    models["popularity"] = _entry(all_metrics(ranked, relevant), pop.fit_seconds, score_s)

    cap = int(chosen["members"]["ease"].get("max_items", DEFAULT_PARAMS["members"]["ease"]["max_items"]))
    ref_params: dict[str, Any] = {"lam": ref_lam, "max_items": cap, "dropout": 0.0, "transform": {"kind": "binary"}}
    if isinstance(member_ease, EASE) and member_ease.get_params() == ref_params:
        ease_ref: Member = member_ease  # the member already is plain binary EASE with that lam
    else:
        ease_ref = EASE(**ref_params).fit(inter)
    ranked, score_s = _rank(ease_ref, users)
    models["ease"] = _entry(all_metrics(ranked, relevant), ease_ref.fit_seconds, score_s, params=ease_ref.get_params())

    if seed_vote:
        sv = SeedVote().fit(inter)
        ranked, score_s = _rank(sv, users)
        models["seed-vote"] = _entry(
            all_metrics(ranked, relevant), sv.fit_seconds, score_s, rating_map="per-user quantile: ceil(5 * pct_rank)"
        )
        say("seed-vote done")

    result: dict[str, Any] = {
        "n_users": len(users),
        "models": models,
        "params": chosen,
        "protocol": info,
        "train": {"users": inter.n_users, "songs": inter.n_songs, "listens": inter.nnz},
    }
    if tuned is not None:
        result["tuning"] = tuned.to_dict()
    result["total_s"] = round(time.perf_counter() - total, 2)
    return result


def fitted_vote(inter: Interactions, params: dict[str, Any] | None = None) -> RankFusionVote:
    """A vote fitted on ``inter`` with ``params`` (defaults if None)."""
    vote = build_vote(params)
    vote.fit(inter)
    return vote
