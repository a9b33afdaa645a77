"""The version model (audio_service.core.version_model): exactly key-invariant by construction, segments that cover
a whole song and a short clip, training pairs that are corresponding passages, and a real (tiny) training run on a
rendered versioned catalog (generated from music21 scores) whose model is evaluated like the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_service.core.compare import FRAME_S
from audio_service.core.version_model import (
    SEGMENT_FRAMES,
    SEGMENT_HOP,
    VersionEmbedder,
    VersionTrainConfig,
    _pick_pair,
    build_version_model,
    segments,
    train_version_model,
    training_pairs,
)


def test_the_embedding_ignores_transposition_but_not_the_tune() -> None:
    model = build_version_model(widths=(8, 8, 8, 8))
    rng = np.random.default_rng(0)
    x = rng.random((3, SEGMENT_FRAMES, 12)).astype(np.float32)
    z = np.asarray(model(x))
    for k in (1, 5, 11):
        assert np.allclose(z, np.asarray(model(np.roll(x, k, axis=2))), atol=1e-5)
    assert np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    shuffled = x[:, rng.permutation(SEGMENT_FRAMES)]  # the same notes in another order is another tune
    assert not np.allclose(z, np.asarray(model(shuffled)), atol=1e-3)


def test_segments_cover_songs_and_short_clips() -> None:
    chroma = np.random.default_rng(1).random((500, 12)).astype(np.float32)
    segs, starts = segments(chroma)
    assert segs.shape[1:] == (SEGMENT_FRAMES, 12)
    assert starts[0] == 0 and abs(starts[1] - SEGMENT_HOP * FRAME_S) < 1e-4
    assert starts[-1] + SEGMENT_FRAMES * FRAME_S == pytest.approx(500 * FRAME_S, abs=1e-3)  # the end is covered
    short, _ = segments(chroma[:40])  # a 4 s clip is repeated into one segment
    assert short.shape == (1, SEGMENT_FRAMES, 12) and np.allclose(short[0, 40:80], chroma[:40])
    assert segments(chroma[:0])[0].shape == (0, SEGMENT_FRAMES, 12)


def test_training_pairs_are_corresponding_passages() -> None:
    rng = np.random.default_rng(2)
    score = np.repeat(rng.random((80, 12)), 10, axis=0).astype(np.float32)  # one work: 80 chords of 10 frames

    def version(tempo: float, key: int) -> np.ndarray:
        n = int(len(score) / tempo)
        pos = np.minimum((np.arange(n) * tempo).astype(int), len(score) - 1)
        return np.roll(score[pos], key, axis=1)

    works = [[{"id": "w~v0", "tempo": 1.0}, {"id": "w~v1", "tempo": 0.8}]]
    chroma = {"w~v0": version(1.0, 0), "w~v1": version(0.8, 3)}
    pairs = training_pairs(works, chroma, rng, batch=6, stretch=0.0, noise=0.0)
    assert pairs.shape == (12, SEGMENT_FRAMES, 12)
    for k in range(6):
        a, b = pairs[2 * k], pairs[2 * k + 1]  # the two versions in either order: b is 3 semitones off a
        same = max(float(np.mean(np.sum(a[:5] * np.roll(b[:5], r, axis=1), axis=1))) for r in (-3, 3))
        # Both crops start at the same point of the score: their first frames are the same chords.
        assert same > 0.95, same


def test_melody_pairs_put_the_melody_alone_beside_a_band() -> None:
    rng = np.random.default_rng(3)
    work = [
        {"id": "w~v0", "voicing": "melody+accompaniment"},
        {"id": "w~v1", "voicing": "band"},
        {"id": "w~v2", "voicing": "melody"},
        {"id": "catalog:w"},  # the catalog render: all parts, no voicing
    ]
    hard = [_pick_pair(work, rng, 1.0) for _ in range(200)]
    assert all({a["id"], b["id"]} == {"w~v1", "w~v2"} for a, b in hard)
    assert 60 < sum(a["id"] == "w~v2" for a, _ in hard) < 140  # either order
    mixed = [frozenset((a["id"], b["id"])) for a, b in (_pick_pair(work, rng, 0.0) for _ in range(600))]
    assert len(set(mixed)) == 6 and all(len(p) == 2 for p in mixed)  # every pair of two distinct versions
    no_melody = [v for v in work if v.get("voicing") != "melody"]
    assert all(len({a["id"], b["id"]}) == 2 for a, b in (_pick_pair(no_melody, rng, 1.0) for _ in range(50)))


def test_training_on_a_rendered_versioned_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from audio_service.core.version_catalog import build_versions
    from audio_service.core.version_eval import evaluate_versions

    out = tmp_path / "versions"
    build_versions(out, n_versions=3, limit=10, held_out=0.3, workers=2, progress=False)
    summary = train_version_model(
        out, tmp_path / "vmodels", VersionTrainConfig(steps=3, batch=4, minutes=2), progress=False
    )
    assert summary["steps"] == 3 and np.isfinite(summary["final_loss"])
    assert (Path(summary["path"]) / "model.keras").exists() and (out / "chroma-cqt.npz").exists()
    embedder = VersionEmbedder.load(tmp_path / "vmodels")
    assert embedder.chroma_kind == "cqt"  # the features it was trained on, from its meta
    result = evaluate_versions(out, embedders={"version_model": lambda y: embedder.passages_of_audio(y, 22050)})
    assert set(result) == {"chroma", "version_model"}
    r = result["version_model"]
    assert 0 <= r["map"] <= 1 and 0 <= r["top1"] <= r["top10"] <= 1 and r["n_works"] >= 2

    # Fine-tuning starts from the given weights (a vanishing learning rate leaves them where they were).
    first = Path(summary["path"])
    tuned = train_version_model(
        out,
        tmp_path / "tuned",
        VersionTrainConfig(steps=1, batch=4, minutes=2, init=str(first), learning_rate=1e-12, melody_pairs=0.5),
        progress=False,
    )
    before = [w.numpy() for w in embedder.model.trainable_weights]
    after = [w.numpy() for w in VersionEmbedder.load(tuned["path"]).model.trainable_weights]
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(before, after, strict=True))
    assert tuned["config"]["init"] == str(first) and (Path(tuned["path"]) / "cohort.npz").exists()

    # Weights replaced in place (shipped ones) get a new version, so that an index of the old ones starts again;
    # a trained folder reached through its parent's ``current`` keeps its own name.
    import shutil

    assert embedder.version == first.name
    shipped = tmp_path / "shipped"
    shutil.copytree(first, shipped)
    old_version = VersionEmbedder.load(shipped).version
    shutil.copy(Path(tuned["path"]) / "model.keras", shipped / "model.keras")
    new_version = VersionEmbedder.load(shipped).version
    assert old_version.startswith("shipped@") and new_version.startswith("shipped@") and old_version != new_version
    with pytest.raises(ValueError, match="cqt chroma, not stft"):
        train_version_model(
            out, tmp_path / "bad", VersionTrainConfig(steps=1, batch=4, init=str(first), chroma="stft"), False
        )

    # The cohort comes from the folder the weights were read from, even if ``current`` moves in between (a
    # second read of the pointer would find a folder without one here).
    import audio_service.core.embed as embed_module

    assert (first / "cohort.npz").exists()
    pointed = iter([first, tmp_path / "elsewhere"])
    monkeypatch.setattr(embed_module, "current_dir", lambda root: next(pointed))
    loaded = VersionEmbedder.load(tmp_path / "vmodels")
    assert loaded.version == first.name and loaded.cohort is not None and loaded.cohort_id == embedder.cohort_id
