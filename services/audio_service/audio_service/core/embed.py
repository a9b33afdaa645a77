"""Embedding with a trained model: patches → vectors, waveform → track + patch vectors."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio_service.core.artifacts import current_dir
from audio_service.core.features import INDEX_HOP, N_MELS, PATCH_FRAMES, log_mel, make_patches, normalize_patches


@dataclass
class TrackEmbedding:
    """``track``: ``(D,)`` unit vector; ``patches``: ``(n, D)`` unit vectors; ``starts``: ``(n,)`` seconds."""

    track: np.ndarray
    patches: np.ndarray
    starts: np.ndarray


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Unit-norm rows (safe for zero vectors)."""
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def model_folder(model_dir: str | os.PathLike[str]) -> Path:
    """The folder of one model: DIR itself when it holds ``model.keras`` (shipped weights), else ``DIR/current``
    (a folder of trained versions)."""
    root = Path(model_dir)
    return root if (root / "model.keras").exists() else current_dir(root)


@dataclass(frozen=True)
class LoadedModel:
    """A model read from disk: the Keras ``model``, its ``meta``, the ``version`` naming these weights and the
    ``folder`` they were read from (read once: anything else taken beside the weights comes from this folder, even
    if ``current`` is switched meanwhile)."""

    model: Any
    meta: dict[str, Any]
    version: str
    folder: Path


def load_model_folder(model_dir: str | os.PathLike[str]) -> LoadedModel:
    """The model of :func:`model_folder`.

    The version names these weights: a trained folder's own name (each training writes a new one), or for a folder
    whose weights are replaced in place (shipped ones) its name and a digest of ``model.keras``, so that an index
    built with the old weights sees that it must start again."""
    import keras

    root = Path(model_dir)
    folder = model_folder(root)
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").exists() else {}
    version = folder.name
    if folder == root:
        version += "@" + hashlib.sha256((folder / "model.keras").read_bytes()).hexdigest()[:12]
    return LoadedModel(model, meta, version, folder)


class Embedder:
    """A loaded embedding model. Thread-safe: the traced ``tf.function`` is shared read-only."""

    def __init__(self, model: Any, meta: dict[str, Any], version: str) -> None:
        import tensorflow as tf

        self.model = model
        self.meta = meta
        self.version = version
        self.dim = int(model.output_shape[-1])
        self._lock = threading.Lock()
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, N_MELS, PATCH_FRAMES], tf.float32)],
            reduce_retracing=True,
        )

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> Embedder:
        """Load ``MODELDIR/current`` (or MODELDIR itself if it holds ``model.keras``)."""
        loaded = load_model_folder(model_dir)
        return cls(loaded.model, loaded.meta, loaded.version)

    def embed_patches(self, patches_db: np.ndarray, batch: int = 256) -> np.ndarray:
        """``(n, N_MELS, PATCH_FRAMES)`` dB patches → ``(n, D)`` unit vectors."""
        x = normalize_patches(patches_db)
        out = [np.asarray(self._fn(x[i : i + batch])) for i in range(0, len(x), batch)]
        return l2_normalize(np.concatenate(out) if out else np.zeros((0, self.dim), np.float32))

    def embed_mel(self, mel_db: np.ndarray, hop: int = INDEX_HOP) -> TrackEmbedding:
        """Embed a whole log-mel ``(N_MELS, n_frames)``: patch vectors and their normalised mean."""
        patches, starts = make_patches(mel_db, hop=hop)
        vecs = self.embed_patches(patches)
        return TrackEmbedding(l2_normalize(vecs.mean(axis=0)), vecs, starts)

    def embed_track(self, y: np.ndarray, hop: int = INDEX_HOP) -> TrackEmbedding:
        """Embed mono audio ``(n_samples,)`` at 22.05 kHz."""
        return self.embed_mel(log_mel(y), hop=hop)
