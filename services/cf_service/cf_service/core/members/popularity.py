"""Songs ranked by number of listeners: the fallback for unknown listeners and the floor to beat."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from surprise import PredictionImpossible

from cf_service.core.members.base import Member


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
