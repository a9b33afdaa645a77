"""Comparing two recordings (audio_service.core.compare): a work played 3 semitones higher and 10 % slower is
found with its key and tempo; unrelated works share no passage. The recordings are rendered from the shipped
corpus (music21 scores through the catalog's synthesiser), so they are generated, not real recordings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from audio_service.core.catalog import EXCERPT_S, Work, list_works, parse_work, render_midi_events
from audio_service.core.compare import FRAME_S, chroma_sequence, compare
from audio_service.core.versions import arrange, plan_versions


def _render(work: Work, transpose: int, tempo: float) -> np.ndarray:
    _, parts, bpm = parse_work(work)
    spec = plan_versions(work.id, n_parts=len(parts), n=1)[0]
    spec = dataclasses.replace(spec, transpose=transpose, tempo=tempo, voicing="melody+accompaniment", melody_octave=0)
    notes, programs, duration = arrange(parts, spec, 60.0 / bpm, EXCERPT_S)
    return render_midi_events(notes, programs, duration)


@pytest.fixture(scope="module")
def works() -> list[Work]:
    return list_works(12)


@pytest.mark.parametrize("index", [0, 3])
def test_a_transposed_slower_version_is_found_with_its_key_and_tempo(works: list[Work], index: int) -> None:
    original = chroma_sequence(_render(works[index], 0, 1.0))
    version = chroma_sequence(_render(works[index], 3, 0.9))
    result = compare(original, version)
    assert abs(result.transpose_semitones - 3) <= 1, result
    assert abs(result.tempo_ratio / 0.9 - 1) <= 0.05, result
    assert result.passages and result.similarity >= 0.85
    first = result.passages[0]
    assert first.a_end - first.a_start >= 6.0 and first.b_end > first.b_start
    # b runs slower: the same passage sits later in b, by about the tempo ratio.
    assert abs(first.b_start * result.tempo_ratio - first.a_start) < 3.0
    assert result.matrix.shape[0] <= 128 and result.matrix.shape[1] <= 128 and FRAME_S > 0


@pytest.mark.parametrize(("one", "other"), [(0, 5), (3, 8), (4, 9)])
def test_unrelated_works_share_no_passage(works: list[Work], one: int, other: int) -> None:
    result = compare(chroma_sequence(_render(works[one], 0, 1.0)), chroma_sequence(_render(works[other], 0, 1.0)))
    assert result.passages == [] and result.similarity == 0.0


def test_band_limited_chroma_leaves_out_the_bass() -> None:
    sr = 22050
    t = np.arange(sr * 2) / sr
    bass = np.sin(2 * np.pi * 55.0 * t)  # A1: below the band
    tune = 0.3 * np.sin(2 * np.pi * 523.25 * t)  # C5
    full = chroma_sequence((bass + tune).astype(np.float32), sr).mean(axis=0)
    limited = chroma_sequence((bass + tune).astype(np.float32), sr, band=(100.0, 5000.0)).mean(axis=0)
    assert int(np.argmax(limited)) == 0  # C, the tune
    # A, the bass, weighs far less once its band is left out.
    assert limited[9] / limited.max() < 0.5 * full[9] / full.max(), (full, limited)
