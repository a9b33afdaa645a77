"""Default hyper-parameters of the vote and its members.

These are the values the tuning procedure (:mod:`cf_service.core.tuning`)
chose on a validation split carved out of ``data/msd/split_10000_head/TRAIN.tsv``
(never TEST); ``python -m cf_service train`` uses them unless ``--params`` or
``--tune`` is given. ``evaluate`` always re-tunes on its own TRAIN.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PARAMS: dict[str, Any] = {
    "weights": {"itemknn": 1.0, "ease": 1.0, "als": 0.5},
    "rrf_k": 5.0,
    "depth": 500,
    "members": {
        "itemknn": {"alpha": 0.15, "q": 2.0, "k": 400, "user_damping": 0.25, "transform": {"kind": "binary"}},
        "ease": {"lam": 25.0, "max_items": 8000, "transform": {"kind": "binary"}},
        "als": {
            "factors": 128,
            "regularization": 0.1,
            "alpha": 1.0,
            "iterations": 15,
            "seed": 0,
            "transform": {"kind": "bm25", "k1": 1.2, "b": 0.75},
        },
    },
}
