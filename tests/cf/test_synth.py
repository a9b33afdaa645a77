"""The synthetic Taste-Profile-shaped generator: exact sizes, heavy tails, determinism, streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from musicrec_common.tasteprofile import read_listens

from ..conftest import load_bench_module

synth = load_bench_module("synth")


def test_shape_at_full_and_tenth_size() -> None:
    assert synth.Shape.at(1.0) == synth.Shape(1_019_318, 384_546, 48_373_586)
    assert synth.Shape.at(0.1) == synth.Shape(101_932, 38_455, 4_837_359)
    with pytest.raises(ValueError):
        synth.Shape.at(0.0)


def test_user_lengths_sum_exactly_with_a_heavy_tail() -> None:
    shape = synth.Shape.at(0.02)
    lengths = synth.user_lengths(shape, seed=3)
    assert lengths.sum() == shape.listens and len(lengths) == shape.users
    assert lengths.min() >= synth.MIN_SONGS_PER_USER
    # Power law: the median user is light, the heaviest has tens of times the median.
    assert np.median(lengths) < lengths.mean() and lengths.max() > 30 * np.median(lengths)


def test_tiny_file_has_the_taste_profile_shape(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.tsv"
    fraction = 0.002  # 2,039 users, 769 songs, 96,747 listens
    info = synth.generate(out, fraction=fraction, seed=1)
    shape = synth.Shape.at(fraction)
    listens = read_listens(out)  # the project's own strict loader accepts the file
    assert info == {"users": shape.users, "songs": len(listens.songs), "listens": shape.listens}
    assert len(listens) == shape.listens and len(listens.users) == shape.users
    assert 0.95 * shape.songs <= len(listens.songs) <= shape.songs
    frame = listens.to_frame()
    assert not frame.duplicated(["user_id", "song_id"]).any()  # (user, song) pairs are distinct
    assert all(len(u) == 40 for u in listens.users[:5]) and all(
        s.startswith("SO") and len(s) == 18 for s in listens.songs[:5]
    )
    per_user = np.bincount(listens.user_codes)
    per_song = np.bincount(listens.song_codes)
    assert per_user.min() >= synth.MIN_SONGS_PER_USER
    # Heavy tails (even at this size, where the head is capped by the 2,039 users): the top 10 % of
    # songs hold more than twice their share of the listens and the top song has 5x the median's listeners.
    top = np.sort(per_song)[::-1][: len(per_song) // 10]
    assert top.sum() / per_song.sum() > 0.2
    assert per_song.max() > 5 * np.median(per_song)
    counts = listens.counts
    assert np.median(counts) == 1 and counts.max() >= 100 and 1.5 < counts.mean() < 4
    # Grouped by user like train_triplets.txt: each user's lines are contiguous.
    firsts = pd.Series(listens.user_codes).ne(pd.Series(listens.user_codes).shift()).sum()
    assert firsts == shape.users


def test_generation_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.tsv", tmp_path / "b.tsv", tmp_path / "c.tsv"
    synth.generate(a, fraction=0.0005, seed=7)
    synth.generate(b, fraction=0.0005, seed=7)
    synth.generate(c, fraction=0.0005, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_blocks_stream_users_in_order() -> None:
    shape = synth.Shape(users=25_000, songs=2_000, listens=25_000 * 20)
    seen = 0
    for users, songs, counts in synth.iter_blocks(shape, seed=0):
        assert len(users) == len(songs) == len(counts)
        assert users.min() == seen and np.all(np.diff(users) >= 0)  # one block of users after the other
        seen = int(users.max()) + 1
    assert seen == shape.users
