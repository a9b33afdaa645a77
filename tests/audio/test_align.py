"""Qmax alignment (audio_service.core.align): the same music in another key and at another tempo aligns all along
and says by how much it was transposed; other music, or the same chords in another order, does not align.

The sequences are generated: random chords held for a second each, as chroma frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_service.core import align

MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], np.float32)  # C major's notes


def tune(seed: int, chords: int = 60, frames_per_chord: int = 11) -> np.ndarray:
    """Chords in C major: a few strong notes of the scale each (so a 10 s clip's notes say its key, as music's do)."""
    rng = np.random.default_rng(seed)
    notes = (rng.random((chords, 12)) ** 3) * (0.1 + MAJOR)
    c = np.repeat(notes, frames_per_chord, axis=0).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def stretch(seq: np.ndarray, ratio: float) -> np.ndarray:
    """``seq`` played ``ratio`` times as fast (nearest frame)."""
    pos = np.minimum((np.arange(int(len(seq) / ratio)) * ratio).astype(int), len(seq) - 1)
    return seq[pos]


def test_a_transposed_slower_version_aligns_all_along_and_unrelated_music_does_not() -> None:
    original = align.align_sequence(tune(1))
    version = align.align_sequence(np.roll(stretch(tune(1), 0.9), 3, axis=1))  # 3 semitones up, 10 % slower
    other = align.align_sequence(tune(2))
    found = align.align(original, version)
    assert found.transpose == 3
    assert found.length > 0.8 * len(original)  # the whole song, despite the tempo
    unrelated = align.align(original, other)
    assert found.score > 3 * unrelated.score, (found, unrelated)
    assert align.score(version, original) == pytest.approx(found.score, rel=0.15)  # either way round


def test_order_matters() -> None:
    """The same chords in another order share every passage's notes but not the tune."""
    song = tune(3)
    blocks = np.split(song, 12)
    shuffled = np.concatenate([blocks[i] for i in np.random.default_rng(0).permutation(12)])
    a = align.align_sequence(song)
    assert align.score(a, align.align_sequence(song)) > 2 * align.score(a, align.align_sequence(shuffled))


def test_a_clip_finds_its_key_and_place() -> None:
    song = tune(4)
    start = 20 * align.POOL
    clip = np.roll(song[start : start + 108], -5, axis=1)  # ~10 s, 5 semitones down
    found = align.align(align.align_sequence(clip), align.align_sequence(song))
    assert found.transpose == 5  # the song is the clip moved up 5
    assert abs(found.b_end - (start // align.POOL + found.a_end)) <= 1  # ends where the clip ends in the song
    assert align.align(np.zeros((0, 12)), align.align_sequence(song)).score == 0.0


def test_pooling_shapes() -> None:
    assert align.align_sequence(tune(5)[:10]).shape == (-(-10 // align.POOL), 12)  # the last one padded
    pooled = align.align_sequence(tune(5))
    assert pooled.dtype == np.float32 and np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)
    assert align.align_sequence(np.zeros((0, 12))).shape == (0, 12)


def test_a_cohort_measures_each_recordings_background_and_scores_become_symmetric_deviations(tmp_path: Path) -> None:
    cohort = align.Cohort([align.align_sequence(tune(100 + i)) for i in range(12)], clip_frames=36)
    assert [len(c) for c in cohort.clips] == [36] * 12  # the middle of each song
    song = align.align_sequence(tune(5))
    version = align.align_sequence(np.roll(stretch(tune(5), 0.9), 3, axis=1))
    others = [align.align_sequence(tune(200 + i)) for i in range(8)]
    bg = {k: cohort.background(s) for k, s in [("song", song), ("version", version)]}
    assert all(b.shape == (4,) and b[1] >= align.MIN_SPREAD and b[3] >= align.MIN_SPREAD for b in bg.values())
    # A clip meets more chance alignments than a song: lower mean, its own spread.
    assert bg["song"][2] < bg["song"][0]
    s = align.score(song, version)
    z = align.normalised(s, bg["song"], bg["version"])
    assert z == pytest.approx(align.normalised(s, bg["version"], bg["song"]))  # symmetric for two songs
    unrelated = [align.normalised(align.score(song, o), bg["song"], cohort.background(o)) for o in others]
    assert z > 3 and z > max(unrelated) + 2, (z, unrelated)
    assert abs(float(np.mean(unrelated))) < 1.5  # unrelated music sits near its background
    # A clip of the version, judged against the song with the song's clip background.
    clip = version[20:56]
    zc = align.normalised(align.score(clip, song), cohort.background(clip), bg["song"], clip=True)
    assert zc > 2, zc
    # Saved and loaded as it was; no cohort (or nothing to measure) leaves scores unchanged.
    cohort.save(tmp_path / "cohort.npz")
    again = align.Cohort.load(tmp_path / "cohort.npz")
    assert again.clip_frames == 36 and np.allclose(again.background(song), bg["song"], atol=1e-3)
    assert np.array_equal(align.Cohort([], 36).background(song), align.NO_BACKGROUND)
    assert align.normalised(2.5, align.NO_BACKGROUND, align.NO_BACKGROUND) == pytest.approx(2.5)


def reference_score(a: np.ndarray, b: np.ndarray) -> float:
    """The alignment score as first written, one pair at a time: every mean-chroma roll and delay embedding
    computed afresh."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    shifts = np.argsort([-float(np.roll(mb, k) @ ma) for k in range(12)], kind="stable")[: align.KEYS]
    ea = align._delay_embed(a)
    norm = float(np.sqrt(min(len(a), len(b))))
    return (
        max(align._qmax(align._recurrence(ea, align._delay_embed(np.roll(b, int(k), axis=1))))[0] for k in shifts)
        / norm
    )


def test_a_background_is_exactly_the_scores_against_each_cohort_recording() -> None:
    # background() embeds each cohort recording once and the query once per key: the same numbers as scoring the
    # pairs one by one (an empty cohort song scores 0).
    songs = [align.align_sequence(tune(300 + i)) for i in range(6)] + [np.zeros((0, 12), np.float32)]
    cohort = align.Cohort(songs, clip_frames=30)
    for seq in (align.align_sequence(tune(7)), align.align_sequence(np.roll(tune(8), 5, axis=1))[:40]):
        by_song = np.array([reference_score(c, seq) for c in cohort.songs], np.float64)
        by_clip = np.array([reference_score(c, seq) for c in cohort.clips], np.float64)
        expected = [by_song.mean(), max(by_song.std(), 0.1), by_clip.mean(), max(by_clip.std(), 0.1)]
        assert np.array_equal(cohort.background(seq), np.array(expected, np.float32))
        assert all(align.score(c, seq) == reference_score(c, seq) for c in cohort.songs)
        assert cohort.background(seq)[0] > 0
