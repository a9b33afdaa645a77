"""A corpus of malformed audio uploads, generated (nothing of it is stored in the repository).

Used by tests/reliability/test_bad_audio.py (each must get a clear 4xx from ``POST /api/audio/query``)
and by bench/bench_fuzz.py. Every item is built here from a short synthetic tone or from one of the real
recordings in data/audio/fixtures, so each is small and the whole corpus builds in well under a second.
"""

from __future__ import annotations

import io
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
REAL_OGG = REPO / "data" / "audio" / "fixtures" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
RATE = 22050


@dataclass(frozen=True)
class BadInput:
    name: str  # the upload's file name
    data: bytes
    content_type: str
    what: str  # what is wrong with it


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1) if channels > 1 else y


def encode(y: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav_header(*, channels: int, rate: int, bits: int, data_bytes: int, fmt_tag: int = 1) -> bytes:
    """A canonical 44-byte RIFF/WAVE header; every field is taken as given, however absurd."""
    block = channels * bits // 8
    riff_size = min(0xFFFFFFFF, 36 + data_bytes)
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, fmt_tag, channels, rate, min(0xFFFFFFFF, rate * block), block, bits)
        + b"data"
        + struct.pack("<I", min(0xFFFFFFFF, data_bytes))
    )


def flac_claiming(seconds: float, rate: int = RATE) -> bytes:
    """A real FLAC of 0.3 s whose STREAMINFO says it lasts ``seconds``."""
    data = bytearray(encode(tone(0.3, rate), rate, "FLAC"))
    assert data[:4] == b"fLaC"
    # STREAMINFO starts at byte 8: ... 20 bits rate, 3 channels-1, 5 bps-1, then 36 bits of total samples.
    total = int(seconds * rate)
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def corpus(seed: int = 8) -> list[BadInput]:
    """At least 20 malformed uploads, each with what is wrong with it."""
    rng = random.Random(seed)
    noise = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    real_ogg = REAL_OGG.read_bytes()
    mp3 = encode(tone(3.0), RATE, "MP3", "MPEG_LAYER_III")
    flac = encode(tone(3.0), RATE, "FLAC")
    pcm = (tone(3.0) * 32767).astype("<i2").tobytes()
    nan = tone(3.0)
    nan[::100] = np.nan
    inf = tone(3.0)
    inf[1000] = np.inf
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"
    items = [
        BadInput("empty.ogg", b"", "audio/ogg", "zero bytes"),
        BadInput("header-only.ogg", real_ogg[:58], "audio/ogg", "OGG cut inside its first page"),
        BadInput("truncated.ogg", real_ogg[:3000], "audio/ogg", "OGG cut after 3 kB"),
        BadInput("truncated.mp3", mp3[:300], "audio/mpeg", "MP3 cut after 300 bytes"),
        BadInput("truncated.flac", flac[:120], "audio/flac", "FLAC cut inside its first frame"),
        BadInput(
            "truncated.wav",
            wav_header(channels=1, rate=RATE, bits=16, data_bytes=len(pcm)) + pcm[:1000],
            "audio/wav",
            "WAV header for 3 s, 500 samples of data",
        ),
        BadInput("noise.mp3", noise, "audio/mpeg", "random bytes named .mp3"),
        BadInput("noise.wav", noise, "audio/wav", "random bytes named .wav"),
        BadInput("noise.flac", noise, "audio/flac", "random bytes named .flac"),
        BadInput("noise.ogg", b"OggS" + noise, "audio/ogg", "OGG capture pattern, then random bytes"),
        BadInput(
            "hours.wav",
            wav_header(channels=2, rate=44100, bits=16, data_bytes=0xFFFFFFF0) + pcm[:4000],
            "audio/wav",
            "WAV header claiming 6.7 hours, 1000 frames present",
        ),
        BadInput("hours.flac", flac_claiming(5 * 3600.0), "audio/flac", "FLAC STREAMINFO claiming 5 hours"),
        BadInput(
            "huge-rate.wav",
            wav_header(channels=1, rate=4_000_000_000, bits=16, data_bytes=len(pcm)) + pcm,
            "audio/wav",
            "WAV sample rate 4 GHz",
        ),
        BadInput(
            "low-rate.wav",
            encode(tone(3.0, 1000), 1000, "WAV", "PCM_16"),
            "audio/wav",
            "WAV at 1000 Hz (under the minimum)",
        ),
        BadInput(
            "one-sample.wav",
            wav_header(channels=1, rate=RATE, bits=16, data_bytes=2) + b"\x10\x00",
            "audio/wav",
            "one sample",
        ),
        BadInput(
            "silence.wav",
            encode(np.zeros(RATE * 3, np.float32), RATE, "WAV", "PCM_16"),
            "audio/wav",
            "3 s of digital silence",
        ),
        BadInput(
            "silence.flac",
            encode(np.zeros(RATE * 3, np.float32), RATE, "FLAC"),
            "audio/flac",
            "3 s of digital silence, FLAC",
        ),
        BadInput("nan.wav", encode(nan, RATE, "WAV", "FLOAT"), "audio/wav", "float WAV with NaN samples"),
        BadInput("inf.wav", encode(inf, RATE, "WAV", "FLOAT"), "audio/wav", "float WAV with an infinite sample"),
        BadInput(
            "zero-channels.wav",
            wav_header(channels=0, rate=RATE, bits=16, data_bytes=len(pcm)) + pcm,
            "audio/wav",
            "WAV with 0 channels",
        ),
        BadInput(
            "many-channels.wav",
            wav_header(channels=1024, rate=RATE, bits=8, data_bytes=65536) + noise,
            "audio/wav",
            "WAV claiming 1024 channels (64 frames)",
        ),
        BadInput(
            "polyglot.ogg",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + html + real_ogg[:20000],
            "audio/ogg",
            "GIF header + HTML/JS, then the start of a real OGG",
        ),
        BadInput("script.mp3", html, "audio/mpeg", "an HTML page with a script, named .mp3"),
        BadInput(
            "id3-only.mp3",
            b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 2048,
            "audio/mpeg",
            "ID3v2 tag claiming 256 MB, no MPEG frame",
        ),
        BadInput("../../../../etc/passwd.wav", noise[:2048], "audio/wav", "path traversal in the name"),
        BadInput("..%2F..%2Fevil.ogg", real_ogg[:3000], "audio/ogg", "URL-encoded traversal in the name"),
        BadInput("nul.wav", b"\x00" * (256 * 1024), "audio/wav", "256 kB of NUL bytes"),
        BadInput("clip.ogg\x00.exe", real_ogg[:1000], "application/x-msdownload", "NUL byte in the name"),
    ]
    return items


def decompression_bomb(seconds: float = 590.0, rate: int = 48_000, channels: int = 8) -> bytes:
    """A FLAC under 1 MB (digital silence compresses to almost nothing) that decodes to
    ``seconds * rate * channels`` samples: the defaults make 226 M samples, 0.9 GB as float32.
    Just under the 600 s limit, so only decoding can tell."""
    buf = io.BytesIO()
    block = np.zeros((rate * 10, channels), np.int16)
    with sf.SoundFile(buf, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as out:
        for _ in range(int(seconds // 10)):
            out.write(block)
    return buf.getvalue()


def mutations(count: int, seed: int = 8) -> list[BadInput]:
    """``count`` random corruptions of real and synthetic files: truncation, flipped bytes, spliced
    headers, inserted or repeated chunks. Some may still decode (then 200 is a right answer)."""
    rng = random.Random(seed)
    sources = {
        "ogg": (REAL_OGG.read_bytes()[:200_000], "audio/ogg"),
        "wav": (encode(tone(2.0), RATE, "WAV", "PCM_16"), "audio/wav"),
        "flac": (encode(tone(2.0), RATE, "FLAC"), "audio/flac"),
        "mp3": (encode(tone(2.0), RATE, "MP3", "MPEG_LAYER_III"), "audio/mpeg"),
    }
    out = []
    for i in range(count):
        ext = rng.choice(sorted(sources))
        data, ctype = sources[ext]
        buf = bytearray(data)
        how = rng.choice(("truncate", "flip", "splice", "insert", "repeat", "zero-run"))
        if how == "truncate":
            buf = buf[: rng.randrange(1, len(buf))]
        elif how == "flip":
            for _ in range(rng.randint(1, 64)):
                pos = rng.randrange(min(len(buf), 4096) if rng.random() < 0.7 else len(buf))
                buf[pos] ^= 1 << rng.randrange(8)
        elif how == "splice":
            other = sources[rng.choice(sorted(sources))][0]
            cut = rng.randrange(4, 512)
            buf = bytearray(other[:cut]) + buf[cut:]
        elif how == "insert":
            pos = rng.randrange(len(buf))
            buf[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048)))
        elif how == "repeat":
            a = rng.randrange(len(buf) - 1)
            b = rng.randrange(a + 1, min(len(buf), a + 65536) + 1)
            buf[b:b] = buf[a:b] * rng.randint(1, 20)
        else:
            pos = rng.randrange(len(buf))
            buf[pos : pos + rng.randint(1, 4096)] = b"\0" * rng.randint(1, 4096)
        out.append(BadInput(f"mutant-{i:04d}.{ext}", bytes(buf), ctype, f"{how} of a {ext}"))
    return out
