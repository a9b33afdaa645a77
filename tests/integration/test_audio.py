"""Search by sound through the real gateway and audio_service (tiny real model) on loopback."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from musicrec_tools.procs import wait_http

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"


@pytest.fixture(scope="module")
def client(stack: Any) -> httpx.Client:
    c = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    resp = c.post("/api/auth/register", json={"username": "listener", "password": "sound-search-123"})
    assert resp.status_code == 201, resp.text
    c.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return c


def catalog_songs(client: httpx.Client) -> list[dict[str, Any]]:
    """Every catalog song, in map order (the map lists the whole audio catalog)."""
    points = client.get("/api/catalog/map").json()["points"]
    assert len(points) >= 8, points
    return [client.get(f"/api/songs/{p['song_id']}").json() for p in sorted(points, key=lambda p: p["song_id"])]


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def test_catalog_songs_stream_and_sound_alike(client: httpx.Client) -> None:
    song = catalog_songs(client)[0]
    assert song["has_audio"] and song["source"] == "catalog"
    audio = client.get(song["audio_url"], headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and len(audio.content) == 100
    similar = client.get(f"/api/songs/{song['id']}/similar", params={"mode": "audio", "n": 5}).json()
    assert similar["degraded"] == [] and 0 < len(similar["items"]) <= 5
    assert all(r.startswith("sounds like") for item in similar["items"] for r in item["reasons"])
    assert song["id"] not in [item["song"]["id"] for item in similar["items"]]


def test_audio_recommendations_follow_recent_plays(client: httpx.Client) -> None:
    song = catalog_songs(client)[1]
    assert client.post("/api/me/plays", json={"song_id": song["id"]}).status_code == 201
    recs = client.get("/api/me/recommendations", params={"mode": "audio", "n": 5}).json()
    assert recs["degraded"] == [] and recs["items"]
    assert all(r.startswith("sounds like") for item in recs["items"] for r in item["reasons"])
    assert song["id"] not in [item["song"]["id"] for item in recs["items"]]


def test_a_catalog_excerpt_finds_its_song_with_segments(stack: Any, client: httpx.Client) -> None:
    song = catalog_songs(client)[2]
    data = client.get(song["audio_url"]).content
    resp = client.post("/api/audio/query", files={"file": ("excerpt.ogg", data, "audio/ogg")})
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert song["id"] in [i["song"]["id"] for i in items[:3]]
    match = next(i for i in items if i["song"]["id"] == song["id"])
    seg = match["segments"][0]
    assert 0 <= seg["query_start"] < seg["query_end"] and 0 <= seg["song_start"] < seg["song_end"]


@pytest.mark.parametrize(
    ("name", "payload", "status", "code"),
    [
        ("empty.ogg", b"", 422, None),
        ("noise.ogg", os.urandom(4096), 415, "bad_audio"),
        ("silence.wav", wav_bytes(np.zeros(22050 * 3), 22050), 422, "silent_audio"),
        ("truncated.ogg", (FIXTURES / "Kevin_MacLeod_-_Vibe_Ace.ogg").read_bytes()[:3000], None, None),
    ],
)
def test_bad_clips_get_a_clear_4xx_and_the_service_stays_up(
    client: httpx.Client, name: str, payload: bytes, status: int | None, code: str | None
) -> None:
    resp = client.post("/api/audio/query", files={"file": (name, payload, "application/octet-stream")})
    assert 400 <= resp.status_code < 500, resp.text
    if status is not None:
        assert resp.status_code == status
    error = resp.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    ok = client.post(
        "/api/audio/query",
        files={"file": ("ok.ogg", (FIXTURES / "sorohanro_-_solo-trumpet-06.ogg").read_bytes(), "audio/ogg")},
    )
    assert ok.status_code == 200 and ok.json()["items"]


def test_compare_a_song_with_itself_an_excerpt_and_another_song(client: httpx.Client) -> None:
    songs = catalog_songs(client)
    song, other = songs[3], songs[4]
    same = client.post("/api/audio/compare", data={"a": song["id"], "b": song["id"]})
    assert same.status_code == 200, same.text
    body = same.json()
    assert body["verdict"] == "same music" and body["a"]["id"] == song["id"] and body["degraded"] == []
    first = body["passages"][0]
    assert first["transpose_semitones"] == 0 and abs(first["tempo_ratio"] - 1) < 0.03
    assert body["matrix"] and len(body["matrix"]) <= 128
    # An uploaded excerpt (the song's own file) against the song.
    data = client.get(song["audio_url"]).content
    clip = client.post(
        "/api/audio/compare", data={"a": song["id"]}, files={"file_b": ("excerpt.ogg", data, "audio/ogg")}
    )
    assert clip.status_code == 200 and clip.json()["b"] is None and clip.json()["passages"], clip.text
    different = client.post("/api/audio/compare", data={"a": song["id"], "b": other["id"]}).json()
    assert different["similarity"] < body["similarity"]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"a": 1}, 422, "bad_request"),  # one side missing
        ({"a": "one", "b": 2}, 422, "validation_error"),
        ({"a": 10**8, "b": 1}, 404, "song_not_found"),
    ],
)
def test_compare_refuses_bad_requests(client: httpx.Client, data: dict[str, Any], status: int, code: str) -> None:
    resp = client.post("/api/audio/compare", data=data)
    assert resp.status_code == status and resp.json()["error"]["code"] == code, resp.text


def test_compare_a_song_without_a_recording_is_404(stack: Any, client: httpx.Client) -> None:
    msd = client.get("/api/songs/search", params={"q": "love", "source": "msd", "per_page": 50}).json()["items"]
    silent = next(s for s in msd if not s["has_audio"])
    catalog = catalog_songs(client)[0]
    resp = client.post("/api/audio/compare", data={"a": silent["id"], "b": catalog["id"]})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "no_recording"


def test_hum_a_catalog_tune(stack: Any, client: httpx.Client) -> None:
    """A synthetic hummed rendition (audio_service's generated voice, not a person) of a catalog song's tune."""
    import soundfile as sf
    from audio_service.core.melody import HUM_SR, synth_hum
    from gateway.db.models import Song
    from gateway.db.session import make_engine
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with np.load(stack.tmp / "var" / "audio" / "catalog" / "melodies.npz") as z:
        melodies = {k: z[k] for k in z.files}
    audio_id = max(melodies, key=lambda k: len(melodies[k]))
    engine = make_engine(stack.env["DATABASE_URL"])
    with Session(engine) as db:
        wanted = db.scalars(select(Song.id).where(Song.audio_id == audio_id)).one()
    engine.dispose()
    y, _ = synth_hum(melodies[audio_id][:28], np.random.default_rng(11))
    buf = io.BytesIO()
    sf.write(buf, y, HUM_SR, format="WAV")
    resp = client.post("/api/audio/hum", files={"file": ("hum.wav", buf.getvalue(), "audio/wav")})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["degraded"] == [] and body["sung_s"] > 2 and body["n_melodies"] >= 8
    ids = [i["song"]["id"] for i in body["items"]]
    assert wanted in ids[:10], (wanted, ids)
    item = body["items"][ids.index(wanted)]
    assert 0 <= item["song_start"] < item["song_end"] and item["score"] > 0
    # Music that is not a tune, and a file that is not audio.
    noise = client.post(
        "/api/audio/hum",
        files={
            "file": ("noise.wav", wav_bytes(np.random.default_rng(1).normal(0, 0.2, 22050 * 4), 22050), "audio/wav")
        },
    )
    assert noise.status_code == 200 and noise.json()["items"] == []
    bad = client.post("/api/audio/hum", files={"file": ("x.ogg", os.urandom(2048), "audio/ogg")})
    assert bad.status_code == 415 and bad.json()["error"]["code"] == "bad_audio"


def test_possible_versions(stack: Any, client: httpx.Client) -> None:
    """The shipped version model: every catalog song's passages are indexed in the background after audio_service
    loads; then a song's possible versions never include itself, and songs without a recording have none."""
    import time

    song = catalog_songs(client)[5]
    deadline = time.monotonic() + 180
    while True:
        body = client.get(f"/api/songs/{song['id']}/versions").json()
        if body["ready"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert body["ready"] and body["degraded"] == [] and body["threshold"] > 0, body
    for item in body["items"]:
        assert item["song"]["id"] != song["id"] and 0 < item["coverage"] <= 1 and item["score"] >= body["threshold"]
    msd = client.get("/api/songs/search", params={"q": "love", "source": "msd", "per_page": 50}).json()["items"]
    silent = next(s for s in msd if not s["has_audio"])
    none = client.get(f"/api/songs/{silent['id']}/versions").json()
    assert none["items"] == [] and none["ready"] is True
    assert client.get("/api/songs/100000000/versions").status_code == 404


def test_oversized_upload_is_refused_before_forwarding(client: httpx.Client) -> None:
    big = b"\0" * (21 * 1024 * 1024)
    resp = client.post("/api/audio/query", files={"file": ("big.wav", big, "audio/wav")})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


def test_catalog_map_and_audio_down(stack: Any, client: httpx.Client) -> None:
    body = client.get("/api/catalog/map").json()
    assert body["degraded"] == [] and len(body["points"]) >= 2 and body["collections"]
    stack.procs["audio_service"].stop()
    try:
        song = catalog_songs(client)[7]  # never asked before: nothing cached for it
        similar = client.get(f"/api/songs/{song['id']}/similar", params={"mode": "hybrid", "n": 5})
        assert similar.status_code == 200 and "audio" in similar.json()["degraded"]
        query = client.post("/api/audio/query", files={"file": ("a.ogg", b"OggS" + b"\0" * 100, "audio/ogg")})
        assert query.status_code == 200 and query.json()["degraded"] == ["audio"]
        compared = client.post("/api/audio/compare", data={"a": song["id"], "b": song["id"]})
        assert compared.status_code == 200 and compared.json()["degraded"] == ["audio"]
        hummed = client.post("/api/audio/hum", files={"file": ("a.wav", b"RIFF" + b"\0" * 100, "audio/wav")})
        assert hummed.status_code == 200 and hummed.json()["degraded"] == ["audio"]
    finally:
        stack.procs["audio_service"].start()
        wait_http(stack.url("audio_service", "/health"), timeout=120, proc=stack.procs["audio_service"])
