"""The path between two songs through the sound embedding (audio_service.core.search.sonic_path)."""

from __future__ import annotations

import numpy as np
from audio_service.core.search import sonic_path


def _circle(n: int) -> np.ndarray:
    """``(n, 3)`` unit vectors around a circle (angle i/n of a half turn), then shuffled rows' noise dimension."""
    angles = np.linspace(0, np.pi, n)
    return np.stack([np.cos(angles), np.sin(angles), np.zeros(n)], axis=1).astype(np.float32)


def test_the_path_starts_and_ends_at_the_songs_and_walks_in_order() -> None:
    vectors = _circle(40)
    order = np.random.default_rng(0).permutation(40)
    shuffled = vectors[order]  # row r holds the point at position order[r]
    start, end = int(np.where(order == 0)[0][0]), int(np.where(order == 39)[0][0])
    path = sonic_path(shuffled, start, end, 8)
    assert path[0] == start and path[-1] == end and len(path) == 8 and len(set(path)) == 8
    positions = [int(order[r]) for r in path]
    assert positions == sorted(positions)  # small steps, always forward along the circle


def test_only_allowed_songs_are_stepped_on_and_short_pools_end_early() -> None:
    vectors = _circle(20)
    allowed = np.zeros(20, bool)
    allowed[[5, 10, 15]] = True
    path = sonic_path(vectors, 0, 19, 10, allowed)
    assert path == [0, 5, 10, 15, 19]  # only three songs may be stepped on: the path is shorter, never repeats
    assert sonic_path(vectors, 3, 3, 10) == [3]
    assert sonic_path(vectors, 0, 19, 2) == [0, 19]
