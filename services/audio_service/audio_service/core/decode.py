"""Safe audio loading: size, duration and sample-rate limits, each failure with its own exception.

Everything the HTTP layer may receive from a user goes through :func:`load_audio`. It never reads an
oversized file fully into memory (size is checked from ``stat`` or while streaming), checks the
duration from the header before decoding, and returns mono float32 at the target sample rate.

Decoding is done by libsndfile (via ``soundfile``): WAV, FLAC, OGG Vorbis/Opus, MP3 and friends.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

AUDIO_EXTENSIONS = (".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav")


class AudioDecodeError(ValueError):
    """Base class: the input cannot be used as audio (maps to a 4xx)."""


class EmptyAudioError(AudioDecodeError):
    """The file or upload has zero bytes or zero samples."""


class AudioTooLargeError(AudioDecodeError):
    """The file is over the byte-size limit."""


class AudioTooLongError(AudioDecodeError):
    """The audio lasts longer than the duration limit."""


class AudioTooShortError(AudioDecodeError):
    """The audio is shorter than the minimum usable duration."""


class CorruptAudioError(AudioDecodeError):
    """The bytes are not audio, or the stream is truncated / corrupt."""


class UnsupportedSampleRateError(AudioDecodeError):
    """The declared sample rate is outside the accepted range."""


class SilentAudioError(AudioDecodeError):
    """The audio is (nearly) digital silence: nothing to compare."""


@dataclass(frozen=True)
class DecodeLimits:
    """Limits applied to every decoded input (defaults suit uploads)."""

    max_bytes: int = 20 * 1024 * 1024
    max_duration_s: float = 600.0
    min_duration_s: float = 0.5
    min_sample_rate: int = 4000
    max_sample_rate: int = 192_000
    #: RMS below this (full scale = 1.0) counts as silence (≈ -80 dBFS).
    silence_rms: float = 1e-4


AudioSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


def _read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` (+1 to detect overflow) in chunks; raise if the stream is bigger."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 20, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise AudioTooLargeError(f"audio is larger than the {max_bytes / 2**20:.1f} MB limit")
    return b"".join(chunks)


def read_bytes(source: AudioSource, limits: DecodeLimits) -> bytes:
    """Return the raw bytes of ``source``, enforcing the size limit without over-reading."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise AudioTooLargeError(f"audio is larger than the {limits.max_bytes / 2**20:.1f} MB limit")
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise AudioDecodeError(f"no such file: {path}") from exc
        if size > limits.max_bytes:
            raise AudioTooLargeError(
                f"{path.name}: {size / 2**20:.1f} MB is larger than the {limits.max_bytes / 2**20:.1f} MB limit"
            )
        with path.open("rb") as fh:
            data = _read_limited(fh, limits.max_bytes)  # the file may grow after stat
    else:
        data = _read_limited(source, limits.max_bytes)
    if not data:
        raise EmptyAudioError("audio is empty (0 bytes)")
    return data


def _resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return y
    import soxr  # librosa's resampler: fast, high quality

    return np.asarray(soxr.resample(y, sr_in, sr_out, quality="HQ"), dtype=np.float32)


#: Frames decoded at a time. Only one block of all channels is ever in memory, next to the mono result:
#: a small compressed upload of silence in 8 channels at a high rate (a decompression bomb) would
#: otherwise be decoded whole, as gigabytes of float32, before any check could refuse it.
BLOCK_FRAMES = 1 << 16


def _reason(exc: BaseException) -> str:
    """libsndfile's own words, without soundfile's "Error opening <_io.BytesIO object at 0x...>: " prefix."""
    return str(getattr(exc, "error_string", None) or exc).strip()


def _read_mono(handle: sf.SoundFile, limit: int) -> np.ndarray:
    """Up to ``limit`` frames of ``handle``, downmixed to mono float32 block by block."""
    known = int(handle.frames) if handle.frames is not None and 0 <= handle.frames < (1 << 62) else -1
    out = np.empty(min(limit, known) if known >= 0 else min(limit, BLOCK_FRAMES), np.float32)
    n = 0
    while n < limit:
        block = handle.read(frames=min(BLOCK_FRAMES, limit - n), dtype="float32", always_2d=True)
        if block.shape[0] == 0:
            break
        if n + block.shape[0] > out.shape[0]:  # the header's length was wrong or unknown: grow
            grown = np.empty(min(limit, max(2 * out.shape[0], n + block.shape[0])), np.float32)
            grown[:n] = out[:n]
            out = grown
        out[n : n + block.shape[0]] = block.mean(axis=1)
        n += block.shape[0]
    return out[:n]


def _rms(y: np.ndarray) -> float:
    """Root mean square in float64, a block at a time (no float64 copy of the whole signal)."""
    total = sum(
        float(np.square(y[i : i + BLOCK_FRAMES], dtype=np.float64).sum()) for i in range(0, len(y), BLOCK_FRAMES)
    )
    return float(np.sqrt(total / max(1, len(y))))


def decode_bytes(data: bytes, limits: DecodeLimits, target_sr: int | None) -> tuple[np.ndarray, int]:
    """Decode ``data`` into mono float32 ``(n_samples,)`` at ``target_sr`` (or native rate if None)."""
    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise CorruptAudioError(f"not a readable audio file ({_reason(exc)})") from exc
    with handle:
        sr = int(handle.samplerate)
        if not limits.min_sample_rate <= sr <= limits.max_sample_rate:
            raise UnsupportedSampleRateError(
                f"sample rate {sr} Hz is outside [{limits.min_sample_rate}, {limits.max_sample_rate}] Hz"
            )
        frames = int(handle.frames) if handle.frames is not None else -1
        # libsndfile reports "unknown" frame counts as a huge number for some streams: cap decoding anyway.
        max_frames = int(limits.max_duration_s * sr) + 1
        if 0 <= frames < (1 << 62) and frames > max_frames:
            raise AudioTooLongError(f"audio lasts {frames / sr:.1f} s, over the {limits.max_duration_s:.0f} s limit")
        try:
            mono = _read_mono(handle, max_frames + 1)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise CorruptAudioError(f"audio stream is corrupt or truncated ({_reason(exc)})") from exc
    if mono.shape[0] > max_frames:
        raise AudioTooLongError(f"audio is longer than the {limits.max_duration_s:.0f} s limit")
    if mono.shape[0] == 0:
        raise EmptyAudioError("audio has no samples")
    if not np.all(np.isfinite(mono)):
        raise CorruptAudioError("audio contains NaN or infinite samples")
    duration = mono.shape[0] / sr
    if duration < limits.min_duration_s:
        raise AudioTooShortError(f"audio lasts {duration:.2f} s, under the {limits.min_duration_s} s minimum")
    rms = _rms(mono)
    if rms < limits.silence_rms:
        raise SilentAudioError(f"audio is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    if target_sr is not None:
        mono = _resample(mono, sr, target_sr)
        sr = target_sr
    return mono, sr


def load_audio(
    source: AudioSource, *, target_sr: int | None = 22050, limits: DecodeLimits | None = None
) -> tuple[np.ndarray, int]:
    """Load any supported audio (path, bytes or binary stream) safely.

    Returns ``(y, sr)`` with ``y`` mono float32 of shape ``(n_samples,)``. Raises a subclass of
    :class:`AudioDecodeError` for every kind of bad input.
    """
    limits = limits or DecodeLimits()
    return decode_bytes(read_bytes(source, limits), limits, target_sr)


def list_audio_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Audio files (by extension) under ``folder``, recursively, sorted for determinism."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
