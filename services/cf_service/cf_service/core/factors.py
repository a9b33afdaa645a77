"""Serve latent factors trained elsewhere (e.g. by Spark) through the normal artifact format.

A model trained outside this process (``pyspark.ml.recommendation.ALS`` in
:mod:`cf_service.jobs.spark_als`) ends as two factor matrices and the raw-id maps of
their rows. :func:`als_vote` wraps them in the same objects a single-machine
training produces: an :class:`~cf_service.core.members.ALS` member (its
preference transform fitted on the same play counts, so fold-in weighs a new
history as training weighed its rows) inside a one-member
:class:`~cf_service.core.vote.RankFusionVote`. :func:`save_als_version` then
writes it with :func:`~cf_service.core.artifacts.save_version`, i.e.
``DIR/<version>/{vote.json, interactions.npz, members/als/{meta.json, model.npz}}``
plus the atomic ``current.json`` switch: cf_service loads and serves it with
:func:`~cf_service.core.artifacts.load_current`, unchanged.

Pure module: numpy / scipy and the core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cf_service.core.artifacts import save_version
from cf_service.core.data import Interactions
from cf_service.core.members import ALS
from cf_service.core.vote import DEFAULT_DEPTH, RankFusionVote


def als_vote(
    inter: Interactions,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    params: dict[str, Any],
    fit_seconds: float = 0.0,
    rrf_k: float = 10.0,
    depth: int = DEFAULT_DEPTH,
) -> RankFusionVote:
    """A one-member vote (``{"als": ALS}``, weight 1) around given factors.

    Args:
        inter: the training play counts; row ``u`` / column ``i`` must be the
            users / songs of ``user_factors[u]`` / ``item_factors[i]``.
        user_factors: (n_users, factors) float.
        item_factors: (n_songs, factors) float.
        params: :class:`~cf_service.core.members.ALS` keyword arguments
            (``factors``, ``regularization``, ``alpha``, ``iterations``, ``seed``,
            ``transform``); ``factors`` must match the matrices.
    """
    if user_factors.shape[0] != inter.n_users or item_factors.shape[0] != inter.n_songs:
        raise ValueError(
            f"factor rows {user_factors.shape[0]} x {item_factors.shape[0]} do not match "
            f"{inter.n_users} users x {inter.n_songs} songs"
        )
    if user_factors.shape[1] != item_factors.shape[1]:
        raise ValueError("user and item factors have different ranks")
    member = ALS(**{**params, "factors": int(user_factors.shape[1])})
    member.attach(inter)  # fits the transform (idf, mean length) on the same counts
    member.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
    member.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    member.fit_seconds = float(fit_seconds)
    vote = RankFusionVote({"als": member}, {"als": 1.0}, rrf_k=rrf_k, depth=depth)
    vote.attach(inter)
    vote.fit_seconds = float(fit_seconds)
    return vote


def save_als_version(
    model_dir: str | Path,
    inter: Interactions,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    params: dict[str, Any],
    *,
    fit_seconds: float = 0.0,
    manifest: dict[str, Any] | None = None,
) -> Path:
    """Write the factors as a new ``model_dir/<version>/`` and switch ``current`` to it."""
    vote = als_vote(inter, user_factors, item_factors, params, fit_seconds=fit_seconds)
    return save_version(
        vote,
        model_dir,
        manifest={"member_fit_seconds": {"als": round(float(fit_seconds), 3)}, **(manifest or {})},
    )
