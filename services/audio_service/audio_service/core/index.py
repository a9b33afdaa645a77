"""FAISS vector stores: exact inner product for small sets, HNSW above a size threshold.

Vectors are unit-norm, so inner product = cosine similarity. Files: ``NAME.faiss``
(``faiss.write_index``) and ``NAME.npz`` (row payloads, ``allow_pickle=False``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_HNSW_THRESHOLD = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _faiss() -> Any:
    import faiss

    return faiss


def make_index(dim: int, vectors: np.ndarray, hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD) -> Any:
    """An index holding ``vectors`` ``(n, dim)``: IndexFlatIP if ``n < hnsw_threshold``, else HNSW (IP)."""
    faiss = _faiss()
    if len(vectors) >= hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_kind(index: Any) -> str:
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


def all_vectors(index: Any) -> np.ndarray:
    """Every stored vector, ``(ntotal, d)`` (Flat and HNSWFlat both store them)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), np.float32)
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def add_vectors(index: Any, vectors: np.ndarray, hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD) -> Any:
    """Add ``vectors``; returns the index to use from now on (rebuilt as HNSW when crossing the threshold)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if index_kind(index) == "flat" and index.ntotal + len(vectors) >= hnsw_threshold:
        return make_index(index.d, np.concatenate([all_vectors(index), vectors]), hnsw_threshold)
    index.add(vectors)
    return index


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(scores, rows)``, both ``(n_queries, k)``; rows are -1 where fewer exist."""
    k = max(1, min(k, int(index.ntotal)))
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, rows


def recall_at_k(index: Any, queries: np.ndarray, k: int = 10) -> float:
    """Recall@k of ``index`` against exact inner-product search over the same vectors."""
    exact = make_index(index.d, all_vectors(index), hnsw_threshold=1 << 62)
    _, truth = search(exact, queries, k)
    _, got = search(index, queries, k)
    hits = sum(len(set(t[t >= 0]) & set(g[g >= 0])) for t, g in zip(truth, got, strict=True))
    return hits / max(1, int((truth >= 0).sum()))


def save_index(index: Any, path: str | os.PathLike[str]) -> None:
    _faiss().write_index(index, str(path))


def load_index(path: str | os.PathLike[str]) -> Any:
    index = _faiss().read_index(str(Path(path)))
    if index_kind(index) == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index
