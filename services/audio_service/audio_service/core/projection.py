"""Placing songs indexed after the map was drawn on the same 2-D map.

``map.json`` holds a PCA of the catalog's track vectors (``evaluate``). PCA is linear, so the projection
is recovered from those points by least squares (``xy ≈ [v, 1] @ W``, ``W`` of shape ``(D + 1, 2)``) and
applied to every indexed song the map does not have yet (library files, uploads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audio_service.core import index as vindex

_cache: dict[tuple[int, int, int], list[dict[str, Any]]] = {}


def extend_map(points: list[dict[str, Any]], search: Any) -> list[dict[str, Any]]:
    """``points`` plus one point per indexed song missing from them (collection from its metadata)."""
    key = (id(search), len(search), len(points))
    if key in _cache:
        return _cache[key]
    have = {p["id"] for p in points}
    missing = [sid for sid in search.ids if sid not in have]
    known = [(search.row_of[p["id"]], p["x"], p["y"]) for p in points if p["id"] in search.row_of]
    out = list(points)
    if missing and len(known) > 2:
        vecs = vindex.all_vectors(search.tracks)  # (n_songs, D)
        rows = np.array([k[0] for k in known])
        xy = np.array([[k[1], k[2]] for k in known], np.float64)
        design = np.hstack([vecs[rows].astype(np.float64), np.ones((len(rows), 1))])
        w, *_ = np.linalg.lstsq(design, xy, rcond=None)
        new_rows = np.array([search.row_of[s] for s in missing])
        placed = np.hstack([vecs[new_rows].astype(np.float64), np.ones((len(new_rows), 1))]) @ w
        for sid, (x, y) in zip(missing, placed, strict=True):
            collection = search.metadata.get(sid, {}).get("collection", "library")
            out.append({"id": sid, "x": round(float(x), 5), "y": round(float(y), 5), "collection": collection})
    _cache.clear()
    _cache[key] = out
    return out
