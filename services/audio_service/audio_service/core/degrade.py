"""What a phone held up to a speaker does to music: the conditions identification is measured (and trained) under.

Waveform degradations (for evaluation, on real decoded audio): a telephone band (300-3,400 Hz), room reverberation
(RT60 0.3-0.8 s, an exponentially decaying noise impulse response), background noise at a given SNR (pink-ish,
like rooms and crowds), lossy re-encoding (Ogg Vorbis at a low quality) and a playback speed change (resampling:
tempo and pitch move together, as with a wrong-speed player).

Log-mel degradations (for training, on the patches the CNN sees, in the power domain): the same band limit, a
reverberant tail, a speed change (time stretch + mel-axis warp), a codec's low-pass.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

CONDITIONS = ("clean", "phone", "reverb", "noise5db", "speed10", "lossy")


def band_limit(y: np.ndarray, sr: int, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """A telephone band: 4th-order Butterworth band-pass, zero phase."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [low, min(high, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    return np.asarray(sosfiltfilt(sos, y), np.float32)


def room_impulse(sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: the direct sound, then noise decaying 60 dB in ``rt60`` seconds."""
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    tail = rng.normal(0, 1, n) * np.exp(-6.91 * t / rt60)
    tail[: int(0.003 * sr)] = 0.0  # the first reflections arrive a few ms after the direct sound
    h = 0.35 * tail / (np.sqrt(np.sum(tail**2)) + 1e-9)  # direct-to-reverberant about 9 dB ...
    h[0] = 1.0  # ... the direct sound
    return h.astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve

    out = fftconvolve(y, room_impulse(sr, rt60, rng))[: len(y)]
    return np.asarray(out / (np.abs(out).max() + 1e-9) * (np.abs(y).max() + 1e-9), np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` noise with a 1/f power spectrum, unit RMS."""
    spec = np.fft.rfft(rng.normal(0, 1, n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    out = np.fft.irfft(spec, n)
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Background noise (half pink, half white) at ``snr_db`` below the signal's power."""
    noise = 0.8 * pink_noise(len(y), rng) + 0.2 * rng.normal(0, 1, len(y))
    noise *= np.sqrt(np.mean(y**2) / 10 ** (snr_db / 10)) / (np.sqrt(np.mean(noise**2)) + 1e-12)
    return (y + noise).astype(np.float32)


def change_speed(y: np.ndarray, factor: float) -> np.ndarray:
    """Played ``factor`` times as fast (1.1: 10 % faster and higher), by resampling."""
    import soxr

    return np.asarray(soxr.resample(y.astype(np.float32), 22050 * factor, 22050), np.float32)


def lossy(y: np.ndarray, sr: int, quality: float = 0.1) -> np.ndarray:
    """Ogg Vorbis at a low quality (``quality`` 0-1), decoded again."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), sr, format="OGG", subtype="VORBIS", compression_level=1.0 - quality)
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32")
    return np.asarray(out[: len(y)], np.float32)


def condition(name: str, rng: np.random.Generator) -> Callable[[np.ndarray, int], np.ndarray]:
    """The degradation called ``name`` (one of :data:`CONDITIONS`), its random parameters drawn from ``rng``."""
    if name == "clean":
        return lambda y, sr: y
    if name == "phone":  # the phone's band, its microphone's noise, its codec
        snr = float(rng.uniform(15, 25))
        return lambda y, sr: lossy(add_noise(band_limit(y, sr), snr, rng), sr)
    if name == "reverb":
        rt60 = float(rng.uniform(0.3, 0.8))
        return lambda y, sr: reverb(y, sr, rt60, rng)
    if name == "noise5db":
        return lambda y, sr: add_noise(y, 5.0, rng)
    if name == "speed10":
        factor = float(rng.choice([0.9, 1.1]))
        return lambda y, sr: change_speed(y, factor)
    if name == "lossy":
        return lambda y, sr: lossy(y, sr, 0.0)
    raise ValueError(f"unknown condition {name!r}; one of {CONDITIONS}")


# ------------------------------------------------------------------------------------------------ log-mel
def mel_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequency (Hz) of each band of a Slaney mel bank from ``fmin`` to ``fmax``: ``(n_mels,)``."""
    import librosa

    return np.asarray(librosa.mel_frequencies(n_mels=n_mels + 2, fmin=fmin, fmax=fmax)[1:-1], np.float64)


def mel_band_limit(patch_db: np.ndarray, centres: np.ndarray, low: float, high: float, floor_db: float) -> np.ndarray:
    """Bands outside ``[low, high]`` Hz fall toward ``floor_db`` (24 dB per octave), as a band-pass does."""
    octaves = np.maximum(np.log2(np.maximum(low, 1.0) / np.maximum(centres, 1.0)), 0) + np.maximum(
        np.log2(np.maximum(centres, 1.0) / high), 0
    )
    return np.maximum(patch_db - 24.0 * octaves[:, None], floor_db).astype(np.float32)


def mel_reverb(patch_db: np.ndarray, frame_s: float, rt60: float, wet_db: float = -9.0) -> np.ndarray:
    """A reverberant tail in the power domain: each band's power smeared by an exponential decay of ``rt60``."""
    n = patch_db.shape[1]
    k = np.arange(n)
    decay = np.exp(-6.91 * k * frame_s / rt60)
    decay /= decay.sum()
    power = np.power(10.0, patch_db / 10.0)
    tail = np.stack([np.convolve(row, decay)[:n] for row in power])
    return (10.0 * np.log10(power + tail * 10 ** (wet_db / 10) * len(decay) ** 0.5 + 1e-10)).astype(np.float32)


def mel_speed(patch_db: np.ndarray, centres: np.ndarray, factor: float) -> np.ndarray:
    """The pitch side of a speed change: band ``f`` takes the energy of band ``f / factor`` (time is stretched by
    the crop). ``factor`` 1.1 moves everything up by 10 %."""
    src = centres / factor
    out = np.empty_like(patch_db)
    for t in range(patch_db.shape[1]):
        out[:, t] = np.interp(src, centres, patch_db[:, t])
    return out.astype(np.float32)
