"""Phone-microphone conditions (audio_service.core.degrade) do what they say, in the waveform and log-mel domains."""

from __future__ import annotations

import numpy as np
import pytest
from audio_service.core.degrade import (
    CONDITIONS,
    add_noise,
    band_limit,
    change_speed,
    condition,
    lossy,
    mel_band_limit,
    mel_centres,
    mel_reverb,
    mel_speed,
    reverb,
)

SR = 22050


def tone(freq: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_waveform_conditions() -> None:
    rng = np.random.default_rng(0)
    low, mid = tone(100), tone(1000)
    assert np.sqrt(np.mean(band_limit(low, SR) ** 2)) < 0.2 * np.sqrt(np.mean(low**2))  # below the phone band
    assert np.sqrt(np.mean(band_limit(mid, SR) ** 2)) > 0.8 * np.sqrt(np.mean(mid**2))  # inside it
    noisy = add_noise(mid, 5.0, rng)
    assert 10 * np.log10(np.mean(mid**2) / np.mean((noisy - mid) ** 2)) == pytest.approx(5.0, abs=0.1)
    wet = reverb(mid, SR, 0.6, rng)
    assert len(wet) == len(mid) and not np.allclose(wet, mid)
    faster = change_speed(mid, 1.1)
    assert abs(len(faster) - len(mid) / 1.1) < 5
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.argmax(spectrum) * SR / len(faster) - 1100) < 5  # 10 % faster is 10 % higher
    assert len(lossy(mid, SR)) == len(mid)
    for name in CONDITIONS:
        out = condition(name, np.random.default_rng(1))(mid, SR)
        assert np.all(np.isfinite(out)) and len(out) > SR
    with pytest.raises(ValueError):
        condition("underwater", rng)


def test_log_mel_conditions() -> None:
    centres = mel_centres(96, 30.0, 11025.0)
    assert centres[0] > 30 and centres[-1] < 11025 and np.all(np.diff(centres) > 0)
    patch = np.full((96, 128), -20.0, np.float32)
    limited = mel_band_limit(patch, centres, 300, 3400, -80.0)
    inside = (centres > 400) & (centres < 3000)
    assert np.allclose(limited[inside], -20.0) and limited[centres > 8000].max() < -45  # 24 dB an octave above 3.4 kHz
    step = np.full((96, 128), -80.0, np.float32)
    step[:, :10] = 0.0  # a note that stops
    tail = mel_reverb(step, 512 / SR, 0.8)
    assert tail[:, 20].mean() > -80 + 10  # the room keeps it sounding after it stops
    bump = np.full((96, 128), -80.0, np.float32)
    bump[40] = 0.0
    up = mel_speed(bump, centres, 1.1)
    assert int(np.argmax(up[:, 0])) > 40  # a faster playback moves energy to higher bands
