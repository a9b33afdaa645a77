"""The melody-line extractor (audio_service.core.melody_line): labels replayed from a version's arrangement, an
output that moves with a transposed input, and a real (tiny) training run on a rendered versioned catalog whose
extractor reads rendered audio and is measured on held-out works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from audio_service.core.compare import FRAME_S
from audio_service.core.melody_line import (
    BINS_PER_SEMITONE,
    N_BINS,
    N_SEMITONES,
    NO_MELODY,
    MelodyExtractor,
    build_melody_model,
    melody_labels,
    spectrum,
    training_examples,
)
from audio_service.core.versions import VersionSpec, arrange


def test_labels_follow_the_tune_of_the_arrangement() -> None:
    tune = [(0.0, 1.0, 72), (1.0, 2.0, 74)]  # C5 then D5: the highest part is the melody
    chords = [(0.0, 2.0, 48), (0.0, 2.0, 55)]
    spec = VersionSpec(
        work_id="w",
        index=0,
        transpose=3,
        tempo=0.5,  # half as fast: every note lasts twice as long
        voicing="band",
        melody_octave=-1,
        programs=(0, 24),
        bass_program=33,
        soundfont=0,
    )
    notes, _, _ = arrange([chords, tune], spec, beat_s=0.5, max_seconds=30.0)
    labels = melody_labels(notes, n_frames=int(5.0 / FRAME_S))
    at = lambda t: int(labels[int(t / FRAME_S)])  # noqa: E731
    assert at(0.5) == 72 + 3 - 12 - 36 and at(1.5) == 72 + 3 - 12 - 36  # C5 + 3 semitones, an octave down
    assert at(2.5) == 74 + 3 - 12 - 36 and at(4.5) == NO_MELODY  # then D5; silent after 4 s
    # The chords, the bass line and the drums never count as the tune.
    assert set(labels.tolist()) == {72 + 3 - 12 - 36, 74 + 3 - 12 - 36, NO_MELODY}


def test_a_transposed_input_moves_the_output_with_it() -> None:
    model = build_melody_model(widths=(4, 4), context=2)
    rng = np.random.default_rng(0)
    x = rng.random((1, 40, N_BINS)).astype(np.float32)
    shift = 3  # semitones
    up = np.zeros_like(x)
    up[:, :, shift * BINS_PER_SEMITONE :] = x[:, :, : -shift * BINS_PER_SEMITONE]
    a, b = np.asarray(model(x)), np.asarray(model(up))
    assert a.shape == (1, 40, N_SEMITONES + 1)
    inner = slice(12, N_SEMITONES - 12)  # away from the edges, where the padding differs
    shifted = slice(12 + shift, N_SEMITONES - 12 + shift)
    assert np.allclose(a[0, :, inner], b[0, :, shifted], atol=1e-4)
    assert not np.allclose(a[0, :, inner], b[0, :, inner], atol=1e-4)  # it did move


def test_training_on_a_rendered_versioned_catalog(tmp_path: Path) -> None:
    from audio_service.cli import main
    from audio_service.core.decode import load_audio
    from audio_service.core.version_catalog import build_versions, load_versions

    out = tmp_path / "versions"
    build_versions(out, n_versions=3, limit=8, held_out=0.3, workers=2, progress=False)
    held = training_examples(out, works=10, split="held_out", progress=False)
    train = training_examples(out, works=10, progress=False)
    assert held and train and {v for _, _, v in train} <= {"melody", "melody+accompaniment", "band"}
    for spec, labels, _ in train:
        assert spec.shape == (len(labels), N_BINS) and (labels < NO_MELODY).mean() > 0.3  # the tune plays

    models = tmp_path / "melody"
    argv = ["train-melody", "--versions", str(out), "--out", str(models), "--steps", "4", "--works", "4"]
    assert main(argv) == 0
    meta = json.loads((Path(models) / (Path(models) / "current").read_text().strip() / "meta.json").read_text())
    assert meta["steps"] == 4 and np.isfinite(meta["final_loss"])
    assert 0.0 <= meta["held_out_accuracy"]["all"] <= 1.0  # measured on works it never read

    extractor = MelodyExtractor.load(models)
    record = next(r for r in load_versions(out) if r["split"] == "held_out")
    y, sr = load_audio(out / record["file"])
    chroma = extractor.melody_chroma(y, sr)
    assert chroma.shape == (len(spectrum(y, sr)), 12)
    assert (chroma >= 0).all() and (chroma.sum(axis=1) <= 1 + 1e-5).all()

    # Beside a version model (version-cohort --melody): copied there with its melody cohort, then read with it.
    from audio_service.core.version_model import (
        MELODY_COHORT_FILE,
        MELODY_FILE,
        VersionEmbedder,
        build_version_model,
    )

    vmodel = tmp_path / "vmodel"
    vmodel.mkdir()
    build_version_model(widths=(8, 8, 8, 8)).save(vmodel / "model.keras")
    (vmodel / "meta.json").write_text(json.dumps({"chroma": "cqt"}))
    argv = ["version-cohort", "--versions", str(out), "--model-dir", str(vmodel), "--songs", "3"]
    assert main([*argv, "--melody", str(models)]) == 0
    assert (vmodel / MELODY_FILE).exists() and (vmodel / MELODY_COHORT_FILE).exists()
    embedder = VersionEmbedder.load(vmodel)
    assert embedder.melody is not None and embedder.melody_cohort is not None
    assert len(embedder.melody_cohort.songs) == 3
    passages = embedder.passages_of_audio(y, sr)
    assert len(passages.melody) > 0 and passages.melody_background[1] >= 0.1
