"""The models the vote is made of, one module each, and their one registry.

* :class:`~cf_service.core.members.itemknn.ItemKNN` - asymmetric-cosine item neighbourhood;
* :class:`~cf_service.core.members.ease.EASE` - Steck's closed-form linear model, capped catalogue;
* :class:`~cf_service.core.members.als.ALS` - implicit-feedback matrix factorisation;
* :class:`~cf_service.core.members.popularity.Popularity` - number of listeners (fallback, floor).

Every one is a :class:`~cf_service.core.base.Recommender` over the shared
:class:`~cf_service.core.members.base.Member` base, and a scikit-surprise ``AlgoBase``.

A new model is one module here with a :class:`Member` subclass (``name``,
``param_names``, ``search_space``), one entry in :data:`REGISTRY` and, to vote,
its defaults in :data:`cf_service.core.params.DEFAULT_PARAMS`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cf_service.core.base import History
from cf_service.core.data import Interactions
from cf_service.core.members.als import ALS
from cf_service.core.members.base import BATCH, Member, SearchSpace, load_interactions, savez
from cf_service.core.members.ease import EASE
from cf_service.core.members.itemknn import ItemKNN
from cf_service.core.members.popularity import Popularity

#: name -> class of every model that can be a member (the key is the class's ``name``).
REGISTRY: dict[str, type[Member]] = {cls.name: cls for cls in (ItemKNN, EASE, ALS, Popularity)}


def member_class(key: str) -> type[Member]:
    """The class registered as ``key``: its ``name`` (``"itemknn"``) or, for saved models, its class name."""
    if key in REGISTRY:
        return REGISTRY[key]
    for cls in REGISTRY.values():
        if cls.__name__ == key:
            return cls
    raise KeyError(f"no cf model registered as {key!r}; known: {sorted(REGISTRY)}")


def load_member(directory: str | Path, inter: Interactions | None = None) -> Member:
    """Load any member from ``directory`` (class taken from ``meta.json``)."""
    path = Path(directory)
    meta = json.loads((path / "meta.json").read_text())
    model = member_class(meta["class"]).from_params(meta["params"])
    if inter is None:
        inter = load_interactions(path / "interactions.npz")
    with np.load(path / "model.npz", allow_pickle=False) as z:
        model.restore(z, inter)
    model.fit_seconds = float(meta.get("fit_seconds", 0.0))
    return model


__all__ = [
    "ALS",
    "BATCH",
    "EASE",
    "REGISTRY",
    "History",
    "ItemKNN",
    "Member",
    "Popularity",
    "SearchSpace",
    "load_member",
    "member_class",
    "savez",
]
