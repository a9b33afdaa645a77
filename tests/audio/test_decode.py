"""Bad input: every kind raises its own exception class with a clear message."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_service.core import decode as d

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"


def wav_bytes(y: np.ndarray, sr: int = 22050) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def with_sample_rate(wav: bytes, sr: int) -> bytes:
    """Patch the fmt chunk of a mono 16-bit PCM WAV to declare another sample rate."""
    b = bytearray(wav)
    fmt = b.index(b"fmt ")
    struct.pack_into("<II", b, fmt + 12, sr, sr * 2)
    return bytes(b)


def tone(seconds: float = 2.0, sr: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_good_fixture_decodes_to_mono_22k() -> None:
    path = sorted(FIXTURES.glob("*.ogg"))[0]
    y, sr = d.load_audio(path)
    assert sr == 22050 and y.ndim == 1 and y.dtype == np.float32 and len(y) > sr


def test_wav_bytes_and_stream() -> None:
    data = wav_bytes(tone(2.0, 44100), 44100)
    y, sr = d.load_audio(data)
    assert sr == 22050 and abs(len(y) - 2 * 22050) < 50
    y2, _ = d.load_audio(io.BytesIO(data))
    assert np.allclose(y, y2)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.ogg"
    p.write_bytes(b"")
    with pytest.raises(d.EmptyAudioError, match="empty"):
        d.load_audio(p)
    with pytest.raises(d.EmptyAudioError):
        d.load_audio(b"")


def test_non_audio_with_audio_extension(tmp_path: Path) -> None:
    p = tmp_path / "song.mp3"
    p.write_bytes(b"<html><body>definitely not audio</body></html>" * 50)
    with pytest.raises(d.CorruptAudioError, match="not a readable audio"):
        d.load_audio(p)


def test_truncated_ogg() -> None:
    data = sorted(FIXTURES.glob("*.ogg"))[0].read_bytes()
    with pytest.raises(d.AudioDecodeError) as info:
        d.load_audio(data[:200])  # cut inside the Vorbis headers
    assert isinstance(info.value, d.CorruptAudioError | d.EmptyAudioError | d.AudioTooShortError)


def test_truncated_wav_header() -> None:
    with pytest.raises(d.CorruptAudioError):
        d.load_audio(wav_bytes(tone())[:30])


def test_oversized_file_rejected_from_stat(tmp_path: Path) -> None:
    p = tmp_path / "huge.wav"
    with p.open("wb") as fh:  # sparse 25 MB file: never read
        fh.truncate(25 * 1024 * 1024)
    with pytest.raises(d.AudioTooLargeError, match="MB limit"):
        d.load_audio(p)


def test_oversized_stream_stops_reading() -> None:
    class Endless(io.RawIOBase):
        read_total = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            Endless.read_total += n
            return b"\0" * n

    with pytest.raises(d.AudioTooLargeError):
        d.load_audio(Endless(), limits=d.DecodeLimits(max_bytes=1_000_000))  # type: ignore[arg-type]
    assert Endless.read_total <= 1_000_001 + (1 << 20)


def test_too_long() -> None:
    with pytest.raises(d.AudioTooLongError, match="limit"):
        d.load_audio(wav_bytes(tone(3.0)), limits=d.DecodeLimits(max_duration_s=1.0))


def test_too_short() -> None:
    with pytest.raises(d.AudioTooShortError):
        d.load_audio(wav_bytes(tone(0.1)))


def test_silence() -> None:
    with pytest.raises(d.SilentAudioError, match="silent"):
        d.load_audio(wav_bytes(np.zeros(22050 * 2, np.float32)))


@pytest.mark.parametrize("rate", [1, 1_000_000])
def test_absurd_sample_rates(rate: int) -> None:
    data = with_sample_rate(wav_bytes(tone(1.0), 8000), rate)
    with pytest.raises(d.UnsupportedSampleRateError, match=f"{rate} Hz"):
        d.load_audio(data)


def test_list_audio_files() -> None:
    files = d.list_audio_files(FIXTURES)
    assert len(files) == 7 and all(f.suffix == ".ogg" for f in files)


def test_all_errors_are_value_errors() -> None:
    for cls in (
        d.EmptyAudioError,
        d.AudioTooLargeError,
        d.AudioTooLongError,
        d.CorruptAudioError,
        d.UnsupportedSampleRateError,
        d.SilentAudioError,
        d.AudioTooShortError,
    ):
        assert issubclass(cls, d.AudioDecodeError) and issubclass(cls, ValueError)
