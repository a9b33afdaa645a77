"""The melody line of a recording: which note the tune plays in each frame, read from a constant-Q spectrum by a
small CNN trained on the versioned catalog, where every version's melody is known (the arrangement's first
channel: the work's highest part, transposed and octave-shifted as the version says; :func:`versions.arrange`).

Why: the version model reads chroma, in which a melody alone and the same melody under chords, a bass line and
drums share only part of their energy. On held-out works the version search ranks a band version in a melody-alone
version's first 10 about 61 % of the time, against 99 % between a band and a melody-with-accompaniment version
(bench/RESULTS.md, "Versions"). A chroma of the melody line alone puts both on the same footing.

The network is convolutional along pitch with no dense layer across it, so transposing the input moves its output
with it (key equivariance, up to the edges of the range): nothing about the catalog's keys is learned. It reads a
whole recording at once (convolutions over time too); per frame it gives a distribution over :data:`N_SEMITONES`
semitones (C2-B7) and "no melody", folded into 12 pitch classes by :meth:`MelodyExtractor.melody_chroma`.

The version search uses it when a ``melody.keras`` lies beside the version model's weights
(:data:`audio_service.core.version_model.MELODY_FILE`): two recordings are then also aligned by their melody
lines (the shipped one has it: ``data/audio/version_model``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio_service.core.compare import CQT_FMIN, FRAME_S, HOP

BINS_PER_SEMITONE = 3
N_SEMITONES = 72  # C2 (MIDI 36) .. B7, the range of the version model's constant-Q chroma
N_BINS = N_SEMITONES * BINS_PER_SEMITONE
LOWEST_MIDI = 36
NO_MELODY = N_SEMITONES  # the class of a frame where the tune is silent (or out of range)
MELODY_CHANNEL = 0  # arrange() plays the tune on the first channel


def spectrum(y: np.ndarray, sr: int) -> np.ndarray:
    """``(n_frames, N_BINS)`` log-compressed constant-Q magnitudes of mono ``y`` (a third of a semitone per bin
    from C2), one frame every ``compare.HOP`` samples: the frames of the version model's chroma."""
    import librosa

    c = np.abs(
        librosa.cqt(
            y.astype(np.float32),
            sr=sr,
            hop_length=HOP,
            fmin=CQT_FMIN,
            n_bins=N_BINS,
            bins_per_octave=12 * BINS_PER_SEMITONE,
        )
    )
    # relative to the recording's loudest bin: a quiet recording reads like a loud one
    return np.log1p(100.0 * c / (c.max() + 1e-9)).T.astype(np.float32)


def melody_labels(notes: list[tuple[float, float, int, int, int]], n_frames: int) -> np.ndarray:
    """``(n_frames,)`` int: the semitone (0 = C2) the tune plays in each frame of a version, from ``arrange()``'s
    notes ``(start_s, end_s, pitch, velocity, channel)``; the highest one where the tune plays a chord;
    :data:`NO_MELODY` where it is silent or out of range."""
    labels = np.full(n_frames, NO_MELODY, np.int64)
    times = np.arange(n_frames) * FRAME_S
    for start, end, pitch, _, channel in sorted(notes, key=lambda n: n[2]):  # higher pitches written last
        semitone = pitch - LOWEST_MIDI
        if channel != MELODY_CHANNEL or not 0 <= semitone < N_SEMITONES:
            continue
        labels[(times >= start) & (times < end)] = semitone
    return labels


def build_melody_model(widths: tuple[int, int] = (16, 32), context: int = 5) -> Any:
    """Input ``(batch, T, N_BINS)`` spectra → ``(batch, T, N_SEMITONES + 1)`` logits (the last: no melody).

    Convolutions over (time, pitch) with "same" padding, pooled to semitones; the pitch logits come from a
    1 x 1 convolution (the same weights at every pitch: transposition-equivariant), the "no melody" logit from the
    frame's strongest evidence anywhere (invariant). ``context``: frames either side seen by the last layer."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(None, N_BINS), name="spectrum")
    x = layers.Reshape((-1, N_BINS, 1))(inp)
    x = layers.Conv2D(widths[0], (3, 7), padding="same", activation="relu", name="conv0")(x)
    x = layers.Conv2D(widths[0], (3, 7), padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D((1, BINS_PER_SEMITONE), name="semitones")(x)  # (T, 72, C)
    x = layers.Conv2D(widths[1], (2 * context + 1, 13), padding="same", activation="relu", name="conv2")(x)
    pitch = layers.Conv2D(1, 1, name="pitch")(x)  # (T, 72, 1)
    pitch = layers.Reshape((-1, N_SEMITONES))(pitch)
    strongest = layers.MaxPooling2D((1, N_SEMITONES), name="anywhere")(x)  # (T, 1, C)
    silent = layers.Dense(1, name="silent")(layers.Reshape((-1, widths[1]))(strongest))  # (T, 1)
    out = layers.Concatenate(axis=-1, name="logits")([pitch, silent])
    return keras.Model(inp, out, name="melody_line")


@dataclass
class MelodyTrainConfig:
    steps: int = 1500
    minutes: float = 20.0
    batch: int = 32  # crops per step
    crop_frames: int = 64  # ~6 s
    works: int = 300  # training works read (their spectra stay in memory: ~0.4 MB per version)
    learning_rate: float = 1e-3
    seed: int = 0


def training_examples(
    versions_dir: str | os.PathLike[str], works: int, seed: int = 0, split: str = "train", progress: bool = True
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """``[(spectrum (T, N_BINS) float16, labels (T,), voicing)]`` for every version of ``works`` works of
    ``split`` (drawn with ``seed``), their labels from replaying each version's arrangement (the score is read
    again; nothing is rendered)."""
    from musicrec_common.progress import tqdm

    from audio_service.core.catalog import EXCERPT_S, list_works, parse_work
    from audio_service.core.decode import AudioDecodeError, load_audio
    from audio_service.core.version_catalog import MAX_PARTS, default_soundfonts, load_versions
    from audio_service.core.versions import arrange, plan_versions

    root = Path(versions_dir)
    by_work: dict[str, list[dict[str, Any]]] = {}
    for r in load_versions(root):
        if r["split"] == split:
            by_work.setdefault(r["work_id"], []).append(r)
    rng = np.random.default_rng(seed)
    chosen = [str(w) for w in rng.permutation(sorted(by_work))[:works]]
    known = {w.id: w for w in list_works()}
    n_fonts = len(default_soundfonts())
    out: list[tuple[np.ndarray, np.ndarray, str]] = []
    for work_id in tqdm(chosen, desc="melody lines", unit="work", disable=not progress):
        if work_id not in known:
            continue
        _, parts, bpm = parse_work(known[work_id])  # as the versioned catalog read it
        parts = [p for p in parts if p][:MAX_PARTS]
        records = by_work[work_id]
        specs = plan_versions(work_id, len(parts), max(int(r["index"]) for r in records) + 1, n_fonts)
        for r in records:
            try:
                y, sr = load_audio(root / r["file"])
            except AudioDecodeError:
                continue
            notes, _, _ = arrange(parts, specs[int(r["index"])], 60.0 / bpm, EXCERPT_S)
            spec = spectrum(y, sr)
            out.append((spec.astype(np.float16), melody_labels(notes, len(spec)), str(r["voicing"])))
    return out


def _crops(
    examples: list[tuple[np.ndarray, np.ndarray, str]], rng: np.random.Generator, batch: int, frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, frames, N_BINS)`` random crops and their ``(batch, frames)`` labels (short ones padded silent)."""
    x = np.zeros((batch, frames, N_BINS), np.float32)
    y = np.full((batch, frames), NO_MELODY, np.int64)
    for k in range(batch):
        spec, labels, _ = examples[int(rng.integers(len(examples)))]
        start = int(rng.integers(max(len(spec) - frames, 0) + 1))
        part = spec[start : start + frames]
        x[k, : len(part)] = part
        y[k, : len(part)] = labels[start : start + frames]
    return x, y


def train_melody_model(
    versions_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: MelodyTrainConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the melody-line extractor on training works' versions; held-out works are never read. Writes
    ``OUT/m<stamp>/{model.keras, meta.json}`` and points ``OUT/current`` at it; a summary."""
    import keras
    import tensorflow as tf
    from musicrec_common.progress import tqdm

    from audio_service.core.artifacts import new_version_dir, set_current

    cfg = config or MelodyTrainConfig()
    rng = np.random.default_rng(cfg.seed)
    keras.utils.set_random_seed(cfg.seed)
    examples = training_examples(versions_dir, cfg.works, cfg.seed, progress=progress)
    if not examples:
        raise ValueError(f"{versions_dir}: no training versions")
    model = build_melody_model()
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(cfg.steps, 1), alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1), y), tf.float32)
        return loss, tf.reduce_mean(hits)

    started = time.monotonic()
    losses: list[float] = []
    accuracies: list[float] = []
    done = 0
    bar = tqdm(total=cfg.steps, desc="melody line", unit="step", disable=not progress)
    for done in range(1, cfg.steps + 1):
        x, y = _crops(examples, rng, cfg.batch, cfg.crop_frames)
        loss, accuracy = step(tf.constant(x), tf.constant(y))
        losses.append(float(loss))
        accuracies.append(float(accuracy))
        bar.update(1)
        if done % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", acc=f"{np.mean(accuracies[-50:]):.3f}")
        if time.monotonic() - started > cfg.minutes * 60:
            break
    bar.close()
    folder = new_version_dir(out_dir, prefix="m")
    model.save(folder / "model.keras")
    summary = {
        "kind": "melody_line",
        "steps": done,
        "seconds": round(time.monotonic() - started, 1),
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "final_frame_accuracy": round(float(np.mean(accuracies[-50:])), 4),
        "n_train_versions": len(examples),
        "config": asdict(cfg),
        "frame_s": FRAME_S,
        "lowest_midi": LOWEST_MIDI,
    }
    (folder / "meta.json").write_text(json.dumps(summary, indent=1))
    set_current(out_dir, folder.name)
    return summary | {"path": str(folder)}


class MelodyExtractor:
    """A loaded melody-line model: audio → the tune's pitch class in each frame."""

    def __init__(self, model: Any, meta: dict[str, Any], version: str) -> None:
        self.model = model
        self.meta = meta
        self.version = version

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> MelodyExtractor:
        """Load ``DIR/current`` (or DIR itself when it holds ``model.keras``)."""
        from audio_service.core.embed import load_model_folder

        loaded = load_model_folder(model_dir)
        return cls(loaded.model, loaded.meta, loaded.version)

    def probabilities(self, spec: np.ndarray) -> np.ndarray:
        """``(T, N_SEMITONES + 1)`` per-frame probabilities of each semitone and of no melody, from a
        :func:`spectrum` ``(T, N_BINS)``."""
        logits = np.asarray(self.model(spec[None].astype(np.float32), training=False))[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def melody_chroma(self, y: np.ndarray, sr: int) -> np.ndarray:
        """``(T, 12)``: the probability that the tune plays each pitch class in each frame (rows sum to one minus
        the probability of no melody), on the version model's chroma frames."""
        return self.melody_chroma_of_spectrum(spectrum(y, sr))

    def melody_chroma_of_spectrum(self, spec: np.ndarray) -> np.ndarray:
        """:meth:`melody_chroma` from a :func:`spectrum` ``(T, N_BINS)``."""
        if len(spec) == 0:
            return np.zeros((0, 12), np.float32)
        p = self.probabilities(spec)[:, :N_SEMITONES]
        # semitone 0 is C, as in librosa's chroma
        return p.reshape(len(p), N_SEMITONES // 12, 12).sum(axis=1)

    def accuracy(self, examples: list[tuple[np.ndarray, np.ndarray, str]]) -> dict[str, float]:
        """Share of frames where the tune plays whose pitch class is read right (the most probable semitone's),
        per voicing and over all ``examples`` (:func:`training_examples`, e.g. of held-out works)."""
        right: dict[str, list[bool]] = {}
        for spec, labels, voicing in examples:
            guess = self.probabilities(spec.astype(np.float32))[:, :N_SEMITONES].argmax(axis=1)
            sounding = labels < N_SEMITONES
            hits = (guess[sounding] % 12) == (labels[sounding] % 12)
            right.setdefault(voicing, []).extend(hits.tolist())
            right.setdefault("all", []).extend(hits.tolist())
        return {k: float(np.mean(v)) if v else 0.0 for k, v in right.items()}
