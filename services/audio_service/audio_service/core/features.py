"""Log-mel spectrograms and fixed-length patches.

Parameters (shared by training, indexing and queries; changing any requires retraining):

* sample rate ``SR`` = 22050 Hz, mono
* STFT: ``N_FFT`` = 2048 (93 ms Hann window), ``HOP`` = 512 (23.2 ms, ≈ 43.07 frames/s)
* mel bank: ``N_MELS`` = 96 bands (Slaney), ``FMIN`` = 30 Hz to ``FMAX`` = 11025 Hz
* log compression: ``10·log10(max(power, 1e-10))`` (dB, no reference, no top-db clipping)
* patches: ``PATCH_FRAMES`` = 128 frames (≈ 2.97 s); the index cuts songs every 16 frames (≈ 0.37 s), a 50% overlap
  (64 frames) for plain segmentation.
* network input: each patch minus its own mean, divided by 20 dB (:func:`normalize_patches`), so a
  gain change (a constant dB offset) does not change the input at all.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 96
FMIN = 30.0
FMAX = 11025.0
PATCH_FRAMES = 128
PATCH_HOP = 64  # 50% overlap
INDEX_HOP = 16  # denser grid for the patch-level index (identification): ≈0.37 s
AMIN = 1e-10
FRAMES_PER_SECOND = SR / HOP
PATCH_SECONDS = PATCH_FRAMES / FRAMES_PER_SECOND


@lru_cache(maxsize=1)
def mel_basis() -> np.ndarray:
    """Mel filter bank, shape ``(N_MELS, N_FFT // 2 + 1)``."""
    import librosa

    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX).astype(np.float32)


def power_spectrogram(y: np.ndarray) -> np.ndarray:
    """|STFT|² with a periodic Hann window, centred frames (zero padding), like ``librosa.stft``.

    Plain numpy (no numba JIT on first call). Returns ``(N_FFT // 2 + 1, n_frames)`` float32.
    """
    y = np.asarray(y, dtype=np.float32)
    pad = N_FFT // 2
    y = np.pad(y, pad, mode="constant")
    n_frames = 1 + (len(y) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP][:n_frames]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spec = np.fft.rfft(frames * window, axis=1)
    return (spec.real**2 + spec.imag**2).T.astype(np.float32)


def mel_power(y: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of mono ``y`` ``(n_samples,)`` at :data:`SR`: shape ``(N_MELS, n_frames)``."""
    return (mel_basis() @ power_spectrogram(y)).astype(np.float32)


def suppress_noise_floor(
    power: np.ndarray, percentile: float = 10.0, alpha: float = 1.5, floor: float = 0.02
) -> np.ndarray:
    """Spectral subtraction of a stationary noise floor, for query clips (phone / room noise).

    ``power`` ``(N_MELS, n_frames)``; the noise of each band is estimated as a low percentile of its
    frames, ``alpha`` times it is subtracted and the result floored at ``floor`` times it.
    """
    noise = np.percentile(power, percentile, axis=1, keepdims=True)
    return np.maximum(power - alpha * noise, floor * noise).astype(np.float32)


def log_mel(y: np.ndarray, denoise: bool = False) -> np.ndarray:
    """Log-mel spectrogram in dB, shape ``(N_MELS, n_frames)`` float32 (optionally noise-suppressed)."""
    power = mel_power(y)
    if denoise:
        power = suppress_noise_floor(power)
    return (10.0 * np.log10(np.maximum(power, AMIN))).astype(np.float32)


def patch_starts(n_frames: int, hop: int = PATCH_HOP, patch: int = PATCH_FRAMES) -> np.ndarray:
    """Start frames of the patches covering ``n_frames`` (the last patch ends at the last frame)."""
    if n_frames <= patch:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - patch + 1, hop, dtype=np.int64)
    if starts[-1] != n_frames - patch:  # cover the tail too
        starts = np.append(starts, n_frames - patch)
    return starts


def make_patches(mel_db: np.ndarray, hop: int = PATCH_HOP, patch: int = PATCH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``mel_db`` ``(N_MELS, n_frames)`` into patches.

    Returns ``(patches, start_seconds)``: ``(n_patches, N_MELS, patch)`` float32 and ``(n_patches,)``.
    Clips shorter than one patch are padded by repeating them (padding with silence would make
    short clips look alike).
    """
    n_frames = mel_db.shape[1]
    if n_frames < patch:
        reps = int(np.ceil(patch / max(n_frames, 1)))
        mel_db = np.tile(mel_db, (1, reps))[:, :patch]
        n_frames = patch
    starts = patch_starts(n_frames, hop, patch)
    idx = starts[:, None] + np.arange(patch)[None, :]
    patches = np.transpose(mel_db[:, idx], (1, 0, 2))
    return np.ascontiguousarray(patches, dtype=np.float32), (starts / FRAMES_PER_SECOND).astype(np.float32)


def normalize_patches(patches: np.ndarray) -> np.ndarray:
    """Network input: ``(n, N_MELS, T)`` dB → per-patch zero mean, /20 dB scale (gain invariant)."""
    p = np.asarray(patches, dtype=np.float32)
    return (p - p.mean(axis=(1, 2), keepdims=True)) / 20.0


def mfcc_vector(y: np.ndarray, n_mfcc: int = 20) -> np.ndarray:
    """Classic baseline: mean and std of ``n_mfcc`` MFCCs over the clip, shape ``(2 * n_mfcc,)``."""
    import librosa

    mel_db = log_mel(y)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=n_mfcc)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]).astype(np.float32)
