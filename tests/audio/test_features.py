"""Log-mel features and patches."""

from __future__ import annotations

import numpy as np
from audio_service.core import features as F


def noise(seconds: float) -> np.ndarray:
    return (np.random.default_rng(0).normal(size=int(seconds * F.SR)) * 0.1).astype(np.float32)


def test_log_mel_shape_and_librosa_parity() -> None:
    import librosa

    y = noise(3.0)
    mel = F.log_mel(y)
    assert mel.shape == (F.N_MELS, 1 + len(y) // F.HOP) and mel.dtype == np.float32
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(
            y=y, sr=F.SR, n_fft=F.N_FFT, hop_length=F.HOP, n_mels=F.N_MELS, fmin=F.FMIN, fmax=F.FMAX
        ),
        ref=1.0,
        amin=F.AMIN,
        top_db=None,
    )
    assert np.allclose(mel, ref, atol=1e-3)


def test_patches_cover_clip_with_overlap() -> None:
    mel = F.log_mel(noise(10.0))
    patches, starts = F.make_patches(mel)
    assert patches.shape[1:] == (F.N_MELS, F.PATCH_FRAMES)
    assert np.isclose(starts[1] - starts[0], F.PATCH_HOP / F.FRAMES_PER_SECOND)
    assert starts[-1] * F.FRAMES_PER_SECOND + F.PATCH_FRAMES == mel.shape[1]  # the tail is covered
    assert np.array_equal(patches[1], mel[:, F.PATCH_HOP : F.PATCH_HOP + F.PATCH_FRAMES])


def test_short_clip_padded_to_one_patch() -> None:
    patches, starts = F.make_patches(F.log_mel(noise(1.0)))
    assert patches.shape == (1, F.N_MELS, F.PATCH_FRAMES) and starts.tolist() == [0.0]


def test_normalisation_is_gain_invariant() -> None:
    y = noise(4.0)
    a = F.normalize_patches(F.make_patches(F.log_mel(y))[0])
    b = F.normalize_patches(F.make_patches(F.log_mel(y * 0.25))[0])
    assert np.allclose(a, b, atol=1e-3)


def test_mfcc_vector() -> None:
    assert F.mfcc_vector(noise(2.0)).shape == (40,)
