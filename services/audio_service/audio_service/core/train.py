"""Training: contrastive same-song objective (NT-Xent) + collection classifier, on training songs only.

Each step samples ``batch`` training songs. Most pairs mirror identification: an *anchor* cut
exactly as the index cuts a song (a clean 128-frame patch) and a *query view* of about the same
moment (within half an index hop) degraded the way listeners' clips are: ±7 % time stretch
(resampling the time axis), white noise at 0–20 dB SNR relative to the crop's own signal power
(real white noise's mel power, scaled from the crop's time-domain power, added in the power
domain), a spectral tilt and sometimes a frequency mask; half of them also pass through a phone held up to a
speaker (:meth:`Augmenter.room`: a telephone band, a room's reverberant tail, a codec's low-pass, up to 10 % speed
change). The other pairs are two degraded crops
from anywhere in the song, so the mean of a song's patch vectors keeps describing its sound. The
collection classifier on the same embedding keeps collections apart. Songs are held out by work id
(a hash, so the split does not depend on the catalog order) and never seen in training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from audio_service.core.artifacts import new_version_dir, prune, set_current
from audio_service.core.catalog import load_catalog
from audio_service.core.features import AMIN, HOP, INDEX_HOP, N_FFT, N_MELS, PATCH_FRAMES, SR, log_mel


@dataclass
class TrainConfig:
    batch: int = 48
    holdout: float = 0.15
    seed: int = 0
    steps: int | None = None  # None: train for ``minutes``; else at most ``steps`` within ``minutes``
    minutes: float = 10.0
    lr: float = 2e-3
    temperature: float = 0.07
    class_weight: float = 0.6
    width: int = 16
    near_fraction: float = 0.8  # share of identification-like pairs (see Augmenter.pair)
    same_collection: float = 0.5  # share of each batch drawn from one collection: harder negatives
    microphone: float = 0.5  # share of query views also played through a phone held to a speaker (Augmenter.room)


def is_heldout(song_id: str, fraction: float) -> bool:
    """Deterministic split by work id: the same song is held out whatever the catalog size."""
    h = int.from_bytes(hashlib.sha1(song_id.encode()).digest()[:4], "little") / 2**32
    return h < fraction


def frame_power(y: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean square of ``y`` over the ``N_FFT`` window of each centred STFT frame: ``(n_frames,)`` float32."""
    sq = np.concatenate([[0.0], np.cumsum(np.asarray(y, np.float64) ** 2)])
    centres = np.arange(n_frames) * HOP
    lo = np.clip(centres - N_FFT // 2, 0, len(y))
    hi = np.clip(centres + N_FFT // 2, 0, len(y))
    return ((sq[hi] - sq[lo]) / N_FFT).astype(np.float32)


def _mel_job(path: str) -> tuple[np.ndarray, np.ndarray]:
    from audio_service.core.decode import load_audio

    y, _ = load_audio(path)
    mel = log_mel(y)
    return mel.astype(np.float16), frame_power(y, mel.shape[1])


def catalog_features(
    catalog_dir: str | os.PathLike[str], songs: list[dict[str, Any]], workers: int = 2
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per song: log-mel dB ``(N_MELS, n_frames)`` float16 and frame power ``(n_frames,)`` float32.

    Cached in ``DIR/.cache`` (one ``.npz``, keyed by the feature parameters and each song's render hash).
    """
    from musicrec_common.progress import tqdm

    root = Path(catalog_dir)
    cache_dir = root / ".cache"
    cache_dir.mkdir(exist_ok=True)
    key = hashlib.sha1(json.dumps([SR, N_FFT, HOP, N_MELS, "power"]).encode()).hexdigest()[:8]
    cache = cache_dir / f"logmel-{key}.npz"
    mels: dict[str, np.ndarray] = {}
    power: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            stamp = {s["id"]: s.get("config_hash", "") for s in songs}
            cuts = z["offsets"][1:-1]
            for sid, cfg, arr, pw in zip(
                z["ids"], z["cfg"], np.split(z["data"], cuts, axis=1), np.split(z["power"], cuts), strict=True
            ):
                if stamp.get(str(sid)) == str(cfg):
                    mels[str(sid)] = arr
                    power[str(sid)] = pw
    todo = [s for s in songs if s["id"] not in mels]
    if todo:
        paths = [str(root / s["file"]) for s in todo]
        if workers > 1 and len(paths) > 8:
            with get_context("fork").Pool(workers) as pool:
                arrs = list(tqdm(pool.imap(_mel_job, paths, chunksize=4), total=len(paths), desc="log-mel"))
        else:
            arrs = [_mel_job(p) for p in tqdm(paths, desc="log-mel")]
        for s, (a, pw) in zip(todo, arrs, strict=True):
            mels[s["id"]] = a
            power[s["id"]] = pw
        ids = [s["id"] for s in songs if s["id"] in mels]
        offsets = np.cumsum([0] + [mels[i].shape[1] for i in ids])
        cfg_of = {s["id"]: s.get("config_hash", "") for s in songs}
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            ids=np.array(ids),
            cfg=np.array([cfg_of[i] for i in ids]),
            offsets=offsets,
            data=np.concatenate([mels[i] for i in ids], axis=1),
            power=np.concatenate([power[i] for i in ids]),
        )
        os.replace(tmp, cache)
    return mels, power


def catalog_mels(
    catalog_dir: str | os.PathLike[str], songs: list[dict[str, Any]], workers: int = 2
) -> dict[str, np.ndarray]:
    """Log-mel dB ``(N_MELS, n_frames)`` float16 of each song (see :func:`catalog_features`)."""
    return catalog_features(catalog_dir, songs, workers)[0]


class Augmenter:
    """Crops + degradations in the log-mel domain. Patches are ``(N_MELS, PATCH_FRAMES)`` dB float32."""

    def __init__(self, rng: np.random.Generator, near_fraction: float = 0.8, microphone: float = 0.0) -> None:
        from audio_service.core.degrade import mel_centres
        from audio_service.core.features import FMAX, FMIN, mel_power

        self.rng = rng
        self.near_fraction = near_fraction
        self.microphone = microphone
        self.centres = mel_centres(N_MELS, FMIN, FMAX)
        # Mel power of 20 s of real unit-variance white noise, fluctuations included: (N_MELS, ~860)
        self.noise_bank = mel_power(np.random.default_rng(12345).standard_normal(20 * SR).astype(np.float32))

    def crop(self, mel: np.ndarray, start: int | None = None, stretch: float = 1.0) -> tuple[np.ndarray, int, int]:
        """A crop of ``round(PATCH_FRAMES * stretch)`` frames resampled to ``PATCH_FRAMES`` (a time stretch).

        Returns ``(patch, start, length)``; ``start=None`` draws a random start.
        """
        n = mel.shape[1]
        length = max(2, min(n, round(PATCH_FRAMES * stretch)))
        if start is None:
            start = int(self.rng.integers(0, max(1, n - length + 1)))
        start = int(np.clip(start, 0, max(0, n - length)))
        seg = mel[:, start : start + length].astype(np.float32)
        if seg.shape[1] < 2:
            seg = np.repeat(seg, 2, axis=1)
        if seg.shape[1] == PATCH_FRAMES:
            return seg, start, length
        pos = np.linspace(0, seg.shape[1] - 1, PATCH_FRAMES)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, seg.shape[1] - 1)
        w = (pos - lo).astype(np.float32)
        return seg[:, lo] * (1 - w) + seg[:, hi] * w, start, length

    def degrade(self, patch: np.ndarray, signal_power: float) -> np.ndarray:
        """White noise at a random SNR (vs ``signal_power``, the crop's mean square), EQ tilt, a band mask."""
        rng = self.rng
        out = patch
        if rng.random() < 0.85:
            snr_db = rng.uniform(0.0, 20.0)
            j = int(rng.integers(0, self.noise_bank.shape[1] - PATCH_FRAMES))
            noise = self.noise_bank[:, j : j + PATCH_FRAMES] * (signal_power / 10 ** (snr_db / 10))
            out = 10.0 * np.log10(np.maximum(np.power(10.0, out / 10.0) + noise, AMIN))
        out = out + rng.uniform(-4, 4) * np.linspace(-1, 1, N_MELS)[:, None]  # spectral tilt (EQ)
        if rng.random() < 0.2:
            f0 = int(rng.integers(0, N_MELS - 8))
            out[f0 : f0 + int(rng.integers(2, 8))] = out.min()
        return out.astype(np.float32)

    def room(self, patch: np.ndarray, speed: float) -> np.ndarray:
        """What a phone held up to a speaker adds: any of a telephone band (300-3,400 Hz), a room's reverberant
        tail (RT60 0.3-0.8 s), a codec's low-pass, and the pitch side of a speed change (``speed``; the crop's
        stretch is its time side)."""
        from audio_service.core.degrade import mel_band_limit, mel_reverb, mel_speed

        rng = self.rng
        out = patch
        if abs(speed - 1.0) > 1e-3:
            out = mel_speed(out, self.centres, speed)
        if rng.random() < 0.5:
            out = mel_reverb(out, HOP / SR, float(rng.uniform(0.3, 0.8)), float(rng.uniform(-12, -4)))
        floor = float(out.min())
        if rng.random() < 0.5:
            out = mel_band_limit(out, self.centres, float(rng.uniform(200, 400)), float(rng.uniform(3000, 4000)), floor)
        elif rng.random() < 0.4:
            out = mel_band_limit(out, self.centres, 20.0, float(rng.uniform(5000, 11000)), floor)
        return out

    def pair(self, mel: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two views of one song: (clean index-like anchor, degraded query view) or two far degraded crops."""
        rng = self.rng
        stretch = float(rng.uniform(0.93, 1.07))
        if rng.random() < self.near_fraction:
            anchor, start, _ = self.crop(mel)
            # Through a phone: the speed changes tempo and pitch together (up to 10 %), the room and band follow.
            phone = rng.random() < self.microphone
            speed = float(rng.uniform(0.9, 1.1)) if phone and rng.random() < 0.4 else 1.0
            # Within half the index hop of the anchor: the query patch nearest to an indexed patch.
            view, vstart, vlen = self.crop(
                mel, start + int(rng.integers(-INDEX_HOP // 2, INDEX_HOP // 2 + 1)), stretch * speed
            )
            view = self.degrade(view, float(power[vstart : vstart + vlen].mean()) + 1e-12)
            return anchor, self.room(view, speed) if phone else view
        a, astart, alen = self.crop(mel, None, float(rng.uniform(0.93, 1.07)))
        b, bstart, blen = self.crop(mel, None, stretch)
        return (
            self.degrade(a, float(power[astart : astart + alen].mean()) + 1e-12),
            self.degrade(b, float(power[bstart : bstart + blen].mean()) + 1e-12),
        )


def sample_batch(rng: np.random.Generator, labels: np.ndarray, batch: int, same_collection: float) -> np.ndarray:
    """``batch`` distinct song rows; about ``same_collection`` of them from one random collection.

    Songs of one collection are the hardest negatives of each other (same style, often same tempo and
    texture): without them the model can tell songs apart by their collection alone.
    """
    n_same = round(batch * same_collection)
    pool = np.flatnonzero(labels == labels[rng.integers(len(labels))])
    same = rng.choice(pool, size=min(n_same, len(pool)), replace=False)
    rest = np.setdiff1d(np.arange(len(labels)), same)
    other = rng.choice(rest, size=min(batch - len(same), len(rest)), replace=False)
    return np.concatenate([same, other])


def train(
    catalog_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    cfg: TrainConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, save ``OUT/<version>/model.keras`` + ``meta.json``, switch ``OUT/current``; returns a summary."""
    import keras
    import tensorflow as tf
    from musicrec_common.progress import tqdm

    from audio_service.core.features import normalize_patches
    from audio_service.core.model import build_embedding_model, build_training_model

    cfg = cfg or TrainConfig()
    songs = load_catalog(catalog_dir)
    if len(songs) < 4:
        raise ValueError(f"catalog {catalog_dir} has {len(songs)} songs; need at least 4")
    train_songs = [s for s in songs if not is_heldout(s["id"], cfg.holdout)]
    test_ids = [s["id"] for s in songs if is_heldout(s["id"], cfg.holdout)]
    collections = sorted({s["collection"] for s in songs})
    t_feat = time.perf_counter()
    mels, powers = catalog_features(catalog_dir, songs)
    t_feat = time.perf_counter() - t_feat
    train_mels = [mels[s["id"]] for s in train_songs]
    train_power = [powers[s["id"]] for s in train_songs]
    labels = np.array([collections.index(s["collection"]) for s in train_songs], dtype=np.int32)

    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    aug = Augmenter(rng, cfg.near_fraction, cfg.microphone)
    embedder = build_embedding_model(width=cfg.width)
    trainer = build_training_model(embedder, len(collections))
    optimizer = keras.optimizers.Adam(learning_rate=cfg.lr)
    batch = min(cfg.batch, len(train_songs))
    temperature = cfg.temperature

    @tf.function(reduce_retracing=True)
    def step(x: tf.Tensor, y: tf.Tensor, lr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            emb, logits = trainer(x, training=True)
            n = tf.shape(emb)[0] // 2
            sim = tf.matmul(emb, emb, transpose_b=True) / temperature
            sim = sim - tf.eye(2 * n) * 1e9  # a view is not its own positive
            targets = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
            nt_xent = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, sim))
            ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.concat([y, y], 0), logits))
            loss = nt_xent + cfg.class_weight * ce
        grads = tape.gradient(loss, trainer.trainable_variables)
        optimizer.apply_gradients(zip(grads, trainer.trainable_variables, strict=True))
        return loss, nt_xent, ce

    budget_s = cfg.minutes * 60.0
    total_steps = cfg.steps
    t0 = time.perf_counter()
    bar = tqdm(total=total_steps, desc="train", disable=not progress, unit="step")
    i = 0
    hist: list[tuple[float, float]] = []
    while True:
        elapsed = time.perf_counter() - t0
        # Steps and time both bound the run (whichever ends first); the LR schedule follows the nearer one.
        frac = max(i / total_steps if total_steps else 0.0, elapsed / budget_s)
        if frac >= 1.0:
            break
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))  # cosine decay over steps or time
        idx = sample_batch(rng, labels, batch, cfg.same_collection)
        views = [aug.pair(train_mels[j], train_power[j]) for j in idx]
        x = np.concatenate([np.stack([v[0] for v in views]), np.stack([v[1] for v in views])])
        _loss, nt, ce = step(tf.constant(normalize_patches(x)), tf.constant(labels[idx]), tf.constant(lr, tf.float32))
        hist.append((float(nt), float(ce)))
        i += 1
        bar.update(1)
        if i % 10 == 0:
            bar.set_postfix(
                nt_xent=f"{np.mean([h[0] for h in hist[-10:]]):.3f}", ce=f"{np.mean([h[1] for h in hist[-10:]]):.3f}"
            )
    bar.close()
    train_s = time.perf_counter() - t0

    folder = new_version_dir(out_dir)
    tmp = folder / "model.tmp.keras"
    embedder.save(tmp)
    os.replace(tmp, folder / "model.keras")
    meta = {
        "version": folder.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": asdict(cfg),
        "features": {"sr": SR, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "patch_frames": PATCH_FRAMES},
        "collections": collections,
        "n_train": len(train_songs),
        "heldout_ids": test_ids,
        "steps": i,
        "train_seconds": round(train_s, 1),
        "feature_seconds": round(t_feat, 1),
        "final_nt_xent": float(np.mean([h[0] for h in hist[-20:]])),
        "final_ce": float(np.mean([h[1] for h in hist[-20:]])),
        "catalog": str(Path(catalog_dir).resolve()),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    set_current(out_dir, folder.name)
    prune(out_dir, "v")
    return {k: v for k, v in meta.items() if k != "heldout_ids"} | {"n_heldout": len(test_ids), "path": str(folder)}
