"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cf_service.core.metrics import all_metrics, map_at_k, ndcg_at_k, recall_at_k


def test_ndcg_hand_computed() -> None:
    ranked = np.array([[5, 1, 7, 3]])
    relevant = [np.array([1, 3])]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, relevant, 10)[0] == pytest.approx(dcg / idcg)
    # k=2: only rank 2 counts; ideal DCG over min(2, 2) = 2 positions
    assert ndcg_at_k(ranked, relevant, 2)[0] == pytest.approx((1 / math.log2(3)) / idcg)


def test_ndcg_ideal_uses_min_k_heldout() -> None:
    ranked = np.array([[0, 1, 2]])
    relevant = [np.arange(20)]  # 20 held out, k=3: a perfect top-3 scores 1
    assert ndcg_at_k(ranked, relevant, 3)[0] == pytest.approx(1.0)


def test_recall_divides_by_min_k_heldout() -> None:
    ranked = np.array([[9, 8, 1, 2, 3]])
    assert recall_at_k(ranked, [np.array([1, 2, 4])], 5)[0] == pytest.approx(2 / 3)
    assert recall_at_k(ranked, [np.arange(100)], 2)[0] == pytest.approx(1.0)  # 9, 8 both held out
    assert recall_at_k(ranked, [np.arange(20, 120)], 2)[0] == pytest.approx(0.0)
    assert recall_at_k(ranked, [np.array([1, 2, 3, 8, 9, 40])], 5)[0] == pytest.approx(5 / 5)


def test_map_hand_computed() -> None:
    ranked = np.array([[1, 9, 2, 8, 3]])
    relevant = [np.array([1, 2, 3, 4])]
    ap = (1 / 1 + 2 / 3 + 3 / 5) / min(500, 4)
    assert map_at_k(ranked, relevant, 500)[0] == pytest.approx(ap)
    # truncated at k=3: hits at 1 and 3, divided by min(3, 4) = 3
    assert map_at_k(ranked, relevant, 3)[0] == pytest.approx((1 + 2 / 3) / 3)


def test_padding_and_means() -> None:
    ranked = np.array([[1, -1, -1], [-1, -1, -1]])
    relevant = [np.array([1]), np.array([2])]
    m = all_metrics(ranked, relevant)
    assert m["ndcg@10"] == pytest.approx(0.5)
    assert m["recall@20"] == pytest.approx(0.5)
    assert m["map@500"] == pytest.approx(0.5)
