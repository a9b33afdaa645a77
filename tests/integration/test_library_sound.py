"""A music folder's sound, end to end on the real stack: scan-library -> audio_service analysis -> gateway lists.

The folder holds real recordings (data/audio/fixtures, whole files up to 133 s) copied into the stack's MUSIC_DIR;
the scan runs as a user runs it (``python -m gateway scan-library DIR --analyse wait``) against the running
audio_service, which reads the files from there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
from musicrec_tools.procs import python_module

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"


def test_library_files_are_analysed_and_join_sound_lists_search_and_map(
    stack: Any, music_folder: Path, tmp_path: Path
) -> None:
    music = music_folder
    sources = sorted(FIXTURES.glob("*.ogg"), key=lambda p: -p.stat().st_size)[:3]
    for src in sources:
        shutil.copy(src, music / src.name)
    out = tmp_path / "scan.jsonl"
    argv = python_module("gateway", "scan-library", str(music), "--json", str(out), "--analyse", "wait")
    done = subprocess.run(argv, env=stack.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "files queued" in done.stdout, done.stdout
    mine = {src.name for src in sources}  # the stack's folder may hold other tests' files too
    records = [r for r in map(json.loads, out.read_text().splitlines()) if Path(r["path"]).name in mine]
    assert [r["status"] for r in records] == ["added"] * 3
    status = stack.get("audio_service", "/library/status")
    assert status["queued"] == 0 and status["done"] >= 3 and status["failed"] == 0, status

    client = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    longest = next(r for r in records if Path(r["path"]).name == sources[0].name)
    song = client.get(f"/api/songs/{longest['song_id']}").json()
    assert song["has_audio"]
    similar = client.get(f"/api/songs/{longest['song_id']}/similar", params={"mode": "audio", "n": 5}).json()
    assert similar["items"] and not similar["degraded"], similar
    assert all("sounds like" in r for item in similar["items"] for r in item["reasons"])

    # A 10 s clip from the middle of the whole file finds it (the song was indexed whole, not a 30 s excerpt).
    y, sr = sf.read(sources[0], dtype="float32", always_2d=True)
    start = int(sr * 70)
    clip = tmp_path / "clip.wav"
    sf.write(clip, y[start : start + sr * 10].mean(axis=1), sr)
    found = client.post("/api/audio/query", files={"file": ("clip.wav", clip.read_bytes(), "audio/wav")}).json()
    assert found["items"] and found["items"][0]["song"]["id"] == longest["song_id"], found

    # The map places the library's songs (the gateway's map cache may hold the catalog-only map for a while).
    points = stack.get("audio_service", "/map")["points"]
    assert {p["collection"] for p in points if p["song_id"].startswith("lib-")} == {"library"}
    assert sum(1 for p in points if p["song_id"].startswith("lib-")) >= 3

    # Sent again (the gateway's periodic sync does this): nothing is analysed twice.
    again = subprocess.run(argv, env=stack.env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 files queued" in again.stdout, again.stdout
    time.sleep(0.5)
    assert stack.get("audio_service", "/health")["info"]["index_size"] == status["indexed"]
