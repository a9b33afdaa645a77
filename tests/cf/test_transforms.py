"""Play-count transforms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from cf_service.core.transforms import KINDS, PreferenceTransform


def _counts() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[1, 0, 4], [2, 3, 0], [0, 0, 9]], dtype=np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_transforms_keep_sparsity_and_are_positive(kind: str) -> None:
    counts = _counts()
    out = PreferenceTransform(kind).fit(counts).apply(counts)
    assert (out != 0).toarray().tolist() == (counts != 0).toarray().tolist()
    assert (out.data > 0).all()


def test_transform_values() -> None:
    counts = _counts()
    assert PreferenceTransform("binary").fit(counts).apply(counts).data.tolist() == [1.0] * 5
    log = PreferenceTransform("log1p").fit(counts).apply(counts)
    assert log[0, 2] == pytest.approx(np.log1p(4))
    conf = PreferenceTransform("confidence", alpha=2.0, eps=1.0).fit(counts).apply(counts)
    assert conf[2, 2] == pytest.approx(1 + 2 * np.log1p(9))
    # more plays never lower a bm25 weight of the same user and song popularity
    bm = PreferenceTransform("bm25").fit(counts)
    a = bm.apply(sp.csr_matrix(np.array([[1, 0, 0]], np.float32)))
    b = bm.apply(sp.csr_matrix(np.array([[5, 0, 0]], np.float32)))
    assert b[0, 0] > a[0, 0]


def test_round_trip_params() -> None:
    t = PreferenceTransform("confidence", alpha=3.0, eps=2.0)
    assert PreferenceTransform.from_params(t.params()).params() == {"kind": "confidence", "alpha": 3.0, "eps": 2.0}
    with pytest.raises(ValueError):
        PreferenceTransform("nope")
