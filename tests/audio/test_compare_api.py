"""``POST /compare`` of audio_service: two indexed songs, a song and an uploaded clip, and what it refuses.

The songs are the tiny rendered catalog (generated from music21 scores) and one real recording of
data/audio/fixtures analysed as a music-folder file.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from audio_service.app.main import create_app
from audio_service.app.settings import Settings
from audio_service.core.decode import load_audio
from fastapi.testclient import TestClient

from .conftest import FIXTURES

TOKEN = "c" * 32


def _wav(y: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def test_compare_songs_and_clips(tmp_path: Path, audio_root: Path) -> None:
    root = audio_root
    music = tmp_path / "music"
    music.mkdir()
    real = max(FIXTURES.glob("*.ogg"), key=lambda p: p.stat().st_size)
    shutil.copy(real, music / real.name)
    settings = Settings(var_dir=tmp_path, audio_dir=root, music_dir=music, admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        ids = engine.search.ids
        a, b = ids[0], ids[1]

        same = client.post("/compare", data={"a": a, "b": a})
        assert same.status_code == 200, same.text
        body = same.json()
        assert body["similarity"] >= body["threshold"] and body["passages"], body["passages"]
        first = body["passages"][0]
        assert first["transpose_semitones"] == 0 and abs(first["tempo_ratio"] - 1) < 0.03
        assert abs(first["a_start"] - first["b_start"]) < 1.0
        assert 0 < len(body["matrix"]) <= 128 and all(0 <= v <= 1 for row in body["matrix"] for v in row)
        assert body["a_duration_s"] > 5

        other = client.post("/compare", data={"a": a, "b": b})
        assert other.status_code == 200 and other.json()["similarity"] < body["similarity"]

        # A clip cut from the middle of song a is found at its place in a.
        y, sr = load_audio(root / "catalog" / engine.search.metadata[a]["file"])
        start_s = 5.0
        clip = _wav(y[int(start_s * sr) : int((start_s + 12) * sr)], sr)
        found = client.post("/compare", data={"a": a}, files={"file_b": ("clip.wav", clip, "audio/wav")})
        assert found.status_code == 200, found.text
        passage = found.json()["passages"][0]
        assert abs((passage["a_start"] - passage["b_start"]) - start_s) < 1.0, passage

        # A music-folder song is read from its path once analysed.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        item = {"items": [{"audio_id": "lib-1-real", "path": str(music / real.name), "title": real.stem}]}
        assert client.post("/library/analyze", json=item, headers=auth).status_code == 202
        engine.analyzer.stop()
        engine.analyzer.run_until_idle()
        lib = client.post("/compare", data={"a": "lib-1-real", "b": "lib-1-real"})
        assert lib.status_code == 200 and lib.json()["passages"], lib.text

        # Refused: a side given twice or not at all, unknown songs, unreadable clips; the service stays up.
        for data, files, status, code in (
            ({"a": a, "b": b}, {"file_a": ("x.wav", clip, "audio/wav")}, 422, "bad_request"),
            ({"a": a}, None, 422, "bad_request"),
            ({"a": a, "b": "no-such-song"}, None, 404, "unknown_song"),
            ({"a": a}, {"file_b": ("x.ogg", b"OggS" + b"\1" * 500, "audio/ogg")}, 415, "bad_audio"),
            ({"a": a}, {"file_b": ("x.wav", b"", "audio/wav")}, 422, "empty_audio"),
        ):
            bad = client.post("/compare", data=data, files=files)
            assert bad.status_code == status and bad.json()["error"]["code"] == code, (data, bad.text)
        # A song whose file has gone is a clear 404, not a 500.
        (music / real.name).unlink()
        engine._chroma = None
        gone = client.post("/compare", data={"a": "lib-1-real", "b": a})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "no_recording"
        assert client.get("/health").json()["status"] == "ok"
