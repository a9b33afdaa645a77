"""The join of the two halves, end to end: a new listener's Last.fm history + their music folder -> playable
recommendations that come from listeners and from sound.

The history is real: an imported MSD listener's plays (data/msd listens and titles) written as a Last.fm export.
The music folder is generated (labelled as such): short synthetic recordings tagged with the MSD artist and title
of 8 of the listener's own songs and of songs the trained vote finds for them, scanned with ``scan-library`` and
analysed by the running audio_service.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from gateway.db.models import Play, Song, User
from gateway.db.session import make_engine
from musicrec_tools.procs import python_module
from sqlalchemy import func, select
from sqlalchemy.orm import Session

pytestmark = pytest.mark.integration


def _listener(stack: Any) -> tuple[str, list[tuple[str, str, str | None, str, int]]]:
    """The MSD listener with the most titled songs: (msd user id, [(msd song id, artist, album, title, plays)])."""
    engine = make_engine(stack.env["DATABASE_URL"])
    with Session(engine) as session:
        user_id, msd_user_id = session.execute(
            select(Play.user_id, User.msd_user_id)
            .join(Song, Song.id == Play.song_id)
            .join(User, User.id == Play.user_id)
            .where(Song.title.is_not(None), Song.artist.is_not(None), User.msd_user_id.is_not(None))
            .group_by(Play.user_id, User.msd_user_id)
            .order_by(func.count().desc(), Play.user_id)
            .limit(1)
        ).one()
        rows = session.execute(
            select(Song.msd_song_id, Song.artist, Song.release, Song.title, Play.count)
            .join(Song, Song.id == Play.song_id)
            .where(Play.user_id == user_id, Song.title.is_not(None), Song.artist.is_not(None))
            .order_by(Play.count.desc(), Song.id)
        ).all()
    engine.dispose()
    return str(msd_user_id), [(str(a), str(b), c, str(d), int(e)) for a, b, c, d, e in rows]


def _names(stack: Any, msd_ids: list[str]) -> dict[str, tuple[str, str]]:
    engine = make_engine(stack.env["DATABASE_URL"])
    with Session(engine) as session:
        rows = session.execute(
            select(Song.msd_song_id, Song.artist, Song.title).where(
                Song.msd_song_id.in_(msd_ids), Song.title.is_not(None), Song.artist.is_not(None)
            )
        ).all()
    engine.dispose()
    return {str(m): (str(a), str(t)) for m, a, t in rows}


def _recording(path: Path, seed: int) -> None:
    """4 s of a synthetic chord with its own pitches, timbre and pulse (generated, not music)."""
    rng = np.random.default_rng(seed)
    sr = 22050
    t = np.arange(4 * sr) / sr
    wave = np.zeros_like(t)
    for k, f in enumerate(110 * 2 ** (rng.integers(0, 36, 3) / 12)):
        wave += (0.3 / (k + 1)) * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * rng.uniform(0.5, 4) * t)) / 2
    wave += 0.02 * rng.standard_normal(t.size)
    sf.write(path, wave.astype(np.float32), sr, format="OGG")


def _tag(path: Path, artist: str, title: str, album: str | None) -> None:
    import mutagen

    audio = mutagen.File(path, easy=True)
    assert audio is not None
    audio["artist"], audio["title"] = artist, title
    if album:
        audio["album"] = album
    audio.save()


def _export(rows: list[tuple[str, str, str | None, str, int]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    when = dt.datetime(2020, 1, 31, 18, 22)
    for _, artist, album, title, count in rows:
        for _ in range(min(count, 3)):
            writer.writerow([artist, album or "", title, when.strftime("%d %b %Y %H:%M")])
            when -= dt.timedelta(minutes=4)
    return out.getvalue().encode()


def test_a_new_listener_with_a_music_folder_gets_playable_songs_from_listeners_and_sound(
    stack: Any, music_folder: Path, tmp_path: Path
) -> None:
    msd_user_id, history = _listener(stack)
    assert len(history) >= 20
    found = stack.get("cf_service", f"/recommendations/{msd_user_id}?n=100")["items"]
    names = _names(stack, [i["song_id"] for i in found])
    picks = [i["song_id"] for i in found if i["song_id"] in names][:24]
    assert len(picks) >= 15
    folder = music_folder / "newcomer"
    folder.mkdir()
    for n, (_, artist, album, title, _) in enumerate(history[:8]):  # 8 songs they play
        _recording(folder / f"own-{n:02d}.ogg", n)
        _tag(folder / f"own-{n:02d}.ogg", artist, title, album)
    for n, msd in enumerate(picks):  # songs listeners like them play
        _recording(folder / f"new-{n:02d}.ogg", 100 + n)
        _tag(folder / f"new-{n:02d}.ogg", *names[msd], None)
    scan = python_module("gateway", "scan-library", stack.env["MUSIC_DIR"], "--analyse", "wait")
    done = subprocess.run(scan, env=stack.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    client = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    reg = client.post("/api/auth/register", json={"username": "newcomer", "password": "my-own-music-123"})
    assert reg.status_code == 201, reg.text
    client.headers["Authorization"] = f"Bearer {reg.json()['token']}"
    export = _export(history)
    first = client.post("/api/me/imports", files={"file": ("scrobbles.csv", export, "text/csv")})
    assert first.status_code == 201, first.text
    assert first.json()["format"] == "lastfm" and first.json()["added"] > 0

    deadline = time.monotonic() + 30  # the gateway re-reads the library's songs every few seconds
    while True:
        recs = client.get("/api/me/recommendations", params={"scope": "library", "n": 10}).json()
        bases = {i["basis"] for i in recs["items"]}
        if len(recs["items"]) == 10 and bases & {"listeners", "both"} and bases & {"sound", "both"}:
            break
        assert time.monotonic() < deadline, recs
        time.sleep(1)
    assert recs["scope"] == "library" and not recs["degraded"], recs
    assert all(i["song"]["has_audio"] and i["song"]["audio_url"] for i in recs["items"])  # every one playable
    by_basis = {b: [i for i in recs["items"] if i["basis"] == b] for b in bases}
    assert any("played" in r or "listeners" in r for i in recs["items"] if i["basis"] != "sound" for r in i["reasons"])
    assert any(r.startswith("sounds like") for i in recs["items"] if i["basis"] != "listeners" for r in i["reasons"])
    print({b: len(v) for b, v in by_basis.items()})
    # "Why this song": each reason in full, the songs it names linkable (the listener's own played songs).
    for item in recs["items"]:
        kinds = {w["kind"] for w in item["why"]}
        assert kinds >= ({"listeners", "sound"} if item["basis"] == "both" else set()), item["why"]
        named = [w for w in item["why"] if w["kind"] == "sound"]
        assert all(w["song"] and w["song"]["id"] for w in named), item["why"]
    # Every one plays: its audio streams from the music folder.
    audio = client.get(recs["items"][0]["song"]["audio_url"], headers={"Range": "bytes=0-99"})
    assert audio.status_code == 206 and len(audio.content) == 100
    # The default scope is the library once there is one; `all` still reaches the whole catalogue.
    assert client.get("/api/me/recommendations", params={"n": 10}).json()["scope"] == "library"
    everything = client.get("/api/me/recommendations", params={"n": 10, "scope": "all"}).json()
    assert everything["scope"] == "all" and everything["items"]

    again = client.post("/api/me/imports", files={"file": ("scrobbles.csv", export, "text/csv")})
    assert again.status_code == 201 and again.json()["added"] == 0, again.text
