"""Fresh mixes (gateway.core.mixes): seeded by listener and day, rank-weighted, spread, flowing."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from gateway.core import mixes

from ..conftest import load_bench_module

POOL = list(range(1000, 1300))
DAY = dt.date(2026, 12, 6)


def test_a_mix_is_the_same_all_day_and_new_the_next() -> None:
    a = mixes.daily(POOL, 50, 7, DAY)
    assert a == mixes.daily(POOL, 50, 7, DAY) and len(a) == len(set(a)) == 50
    b = mixes.daily(POOL, 50, 7, DAY + dt.timedelta(days=1))
    assert len(set(a) & set(b)) <= 0.3 * 50
    assert mixes.daily(POOL, 50, 8, DAY) != a  # another listener, another draw
    # The head is the top of the pool (a few swaps); the rest reaches deep.
    assert len(set(a[:10]) & set(POOL[:12])) >= 8
    assert max(POOL.index(s) for s in a) > 100


def test_the_draw_favours_the_top_and_respects_artists_and_held_back_songs() -> None:
    counts = np.zeros(len(POOL))
    for seed in range(300):
        for s in mixes.draw(POOL, 30, seed):
            counts[POOL.index(s)] += 1
    assert counts[:10].mean() > 2 * counts[-100:].mean()
    artist_of = {s: f"artist {s % 5}" for s in POOL}
    drawn = mixes.draw(POOL, 50, 1, artist_of=artist_of, max_per_artist=2)
    assert len(drawn) == 10  # five artists, two songs each: never holes filled with a third
    held = set(POOL[:40])
    assert not held & set(mixes.draw(POOL, 50, 1, held_back=held))
    assert mixes.draw(POOL, 50, 1) == sorted(mixes.draw(POOL, 50, 1), key=POOL.index)  # the pool's order


def test_flow_follows_the_sound_and_spreads_songs_without_audio() -> None:
    # Points on a line, given shuffled: the flow walks along it from the first song.
    vectors = {s: np.array([float(s), 0.0]) for s in (1, 2, 3, 4, 5, 6)}
    order = mixes.flow([1, 4, 2, 6, 3, 5, 100, 200], vectors)
    assert [s for s in order if s in vectors] == [1, 2, 3, 4, 5, 6]
    assert sorted(order) == [1, 2, 3, 4, 5, 6, 100, 200]
    assert order.index(100) not in (0, 7) and order.index(200) - order.index(100) > 1


def test_the_mixes_benchmark_runs_on_the_shipped_split(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench_module("bench_mixes")
    assert bench.main(["--users", "30", "--days", "3", "--no-write"]) == 0
    out = capsys.readouterr().out
    overlap = float(re.search(r"day-to-day overlap[^|]*\| ([\d.]+)%", out).group(1))  # type: ignore[union-attr]
    assert 0 < overlap < 100
