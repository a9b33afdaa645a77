"""Query by humming (audio_service.core.melody): melodies from scores, contours, the key- and tempo-free match, and
synthetic hummed queries (generated voices, labelled as such) pitch-tracked with pyin and found."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from audio_service.core.melody import (
    FRAME_S,
    HUM_SR,
    MelodyIndex,
    contour,
    match_contour,
    melody_notes,
    pitch_contour,
    synth_hum,
)


def random_melody(rng: np.random.Generator, n: int = 40) -> np.ndarray:
    """A generated tune: steps and small leaps in a major scale, notes of 0.25-0.75 s, a few rests."""
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    degree, t, out = 7, 0.0, []
    for _ in range(n):
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 0, 13))
        dur = float(rng.choice([0.25, 0.5, 0.5, 0.75]))
        pitch = 60 + 12 * (degree // 7) + scale[degree % 7]
        out.append((t, t + dur * 0.95, pitch))
        t += dur + (0.25 if rng.random() < 0.05 else 0.0)
    return np.array(out, np.float32)


def test_melody_notes_take_the_tune_and_its_top_note() -> None:
    bass = [(0.0, 2.0, 40), (2.0, 4.0, 43)]
    tune = [(0.0, 1.0, 72), (0.0, 1.0, 76), (1.0, 2.0, 74), (1.5, 2.5, 77)]
    notes = melody_notes([bass, tune])
    assert notes[:, 2].tolist() == [76, 74, 77]  # the chord's top note; the overlap cut
    assert notes[1, 1] == 1.5
    c = contour(np.array([(0.0, 0.5, 60), (1.0, 1.5, 62)], np.float32))
    assert len(c) == 15 and np.isnan(c[7]) and c[0] == 60 and c[12] == 62


def test_a_transposed_slower_excerpt_is_placed() -> None:
    rng = np.random.default_rng(0)
    ref = contour(random_melody(rng))
    start, length = 40, 80
    query = ref[start : start + length] + 5.0  # 5 semitones up
    slow = query[np.minimum((np.arange(int(length / 0.8)) * 0.8).astype(int), length - 1)]  # 20 % slower
    cost, at, _, shift, ratio = match_contour(slow, ref)
    assert cost < 0.4 and abs(shift + 5) < 0.01 and abs(at - start) <= 3 and abs(ratio - 1.25) < 0.06, (
        cost,
        at,
        ratio,
    )  # the song is 1.25x faster
    other = contour(random_melody(np.random.default_rng(9)))
    assert match_contour(slow, other)[0] > 3 * max(cost, 0.05)


def test_synthetic_hums_find_their_melody() -> None:
    rng = np.random.default_rng(1)
    melodies = {f"song-{i}": random_melody(rng) for i in range(25)}
    index = MelodyIndex(melodies)
    hits = 0
    for i in range(6):
        sid = f"song-{i * 4}"
        notes = melodies[sid][5:25]
        y, info = synth_hum(notes, rng)
        assert info["tempo"] and len(y) / HUM_SR > 4
        query = pitch_contour(y, HUM_SR)
        assert np.isfinite(query).mean() > 0.5  # pyin hears the voice
        found = index.search(query, n=3)
        hits += found[0].song_id == sid
        match = next(m for m in found if m.song_id == sid) if sid in [m.song_id for m in found] else None
        if match is not None:
            # the passage hummed (from note 5) is where it was found, in the song's time
            assert abs(match.song_start - float(notes[0, 0])) < 1.5, (match, notes[0, 0])
    assert hits >= 5
    noise = np.random.default_rng(2).normal(0, 0.1, HUM_SR * 5).astype(np.float32)
    assert index.search(pitch_contour(noise, HUM_SR)) == []  # nothing sung: nothing found
    assert FRAME_S == 0.1


def test_hum_api_on_the_tiny_catalog(tmp_path: Path, audio_root: Path) -> None:
    from audio_service.app.main import create_app
    from audio_service.app.settings import Settings
    from audio_service.cli import main
    from fastapi.testclient import TestClient

    root = audio_root
    with TestClient(create_app(Settings(var_dir=tmp_path, audio_dir=root))) as client:
        clip = {"file": ("hum.wav", b"RIFF" + b"\0" * 100, "audio/wav")}
        no_melodies = client.post("/hum", files=clip)
        assert no_melodies.status_code == 503 and no_melodies.json()["error"]["code"] == "model_unavailable"
        assert main(["build-melodies", "--catalog", str(root / "catalog"), "--workers", "1"]) == 0
        with np.load(root / "catalog" / "melodies.npz") as z:
            melodies = {k: z[k] for k in z.files}
        assert len(melodies) >= 12
        sid = sorted(melodies, key=lambda k: -len(melodies[k]))[0]
        y, _ = synth_hum(melodies[sid][:24], np.random.default_rng(3))
        buf = io.BytesIO()
        sf.write(buf, y, HUM_SR, format="WAV")
        found = client.post("/hum", files={"file": ("hum.wav", buf.getvalue(), "audio/wav")})
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["n_melodies"] == len(MelodyIndex(melodies)) and body["sung_s"] > 2
        assert sid in [i["song_id"] for i in body["items"][:10]]
        bad = client.post("/hum", files={"file": ("x.ogg", b"OggS" + b"\1" * 300, "audio/ogg")})
        assert bad.status_code == 415 and bad.json()["error"]["code"] == "bad_audio"
        assert client.get("/health").json()["status"] == "ok"


def test_the_catalog_writes_its_melodies_while_rendering(
    tiny_catalog: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: Any
) -> None:
    """build-catalog leaves each song's tune beside its recording: build-melodies then never reads a score."""
    import audio_service.core.catalog as catalog
    from audio_service.core.melody import catalog_melodies

    root = tmp_path / "catalog"
    shutil.copytree(tiny_catalog[0], root)
    assert list(root.rglob("*.melody.npy"))

    def no_scores(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a score was parsed again")

    monkeypatch.setattr(catalog, "parse_work", no_scores)
    melodies = catalog_melodies(root, workers=1, progress=False)
    assert len(melodies) >= 12 and (root / "melodies.npz").exists()
    first = next(iter(melodies.values()))
    assert first.shape[1] == 3 and np.all(first[:, 1] > first[:, 0])
