"""Sound analysis of a music folder: whole files queued, embedded, indexed, saved; nothing twice.

The "library" is the real recordings of data/audio/fixtures (whole files, 3 s to 133 s) copied into a temporary
music folder, plus a corrupt file and a file outside the folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from audio_service.app.main import create_app
from audio_service.app.settings import Settings
from fastapi.testclient import TestClient

from .conftest import FIXTURES

TOKEN = "t" * 32


def _audio_root(tmp_path: Path, tiny_model: tuple[Path, Any], tiny_index: tuple[Path, Any]) -> Path:
    """An AUDIO_DIR of its own: the tiny model, a copy of the tiny index (the tests write to it)."""
    root = tmp_path / "audio"
    shutil.copytree(tiny_model[0], root / "models")
    shutil.copytree(tiny_index[0], root / "index")
    return root


def _music(tmp_path: Path) -> tuple[Path, list[Path]]:
    music = tmp_path / "music"
    files = []
    for i, src in enumerate(sorted(FIXTURES.glob("*.ogg"))[:4]):
        dest = music / f"artist{i % 2}" / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
        files.append(dest)
    (music / "broken.ogg").write_bytes(b"OggS" + b"\x01" * 5000)
    return music, files


def test_analyzer_indexes_whole_files_once_and_saves(
    tmp_path: Path, tiny_model: tuple[Path, Any], tiny_index: tuple[Path, Any]
) -> None:
    from audio_service.core.decode import load_audio
    from audio_service.core.library import LibraryAnalyzer, LibraryItem
    from audio_service.core.projection import extend_map
    from audio_service.core.search import AudioSearch

    root = _audio_root(tmp_path, tiny_model, tiny_index)
    music, files = _music(tmp_path)
    outside = tmp_path / "elsewhere.ogg"
    shutil.copy(files[0], outside)
    search = AudioSearch.load(root / "models", root / "index")
    before = len(search)
    analyzer = LibraryAnalyzer(search, music, save_every=2)
    items = [LibraryItem(f"lib-{i}-abc", str(p), title=p.stem) for i, p in enumerate(files)]
    queued, already, rejected = analyzer.submit(
        [
            *items,
            LibraryItem("lib-broken", str(music / "broken.ogg")),
            LibraryItem("lib-out", str(outside)),
            LibraryItem("lib-escape", str(music / ".." / "elsewhere.ogg")),
            LibraryItem("lib-none", str(music / "nope.ogg")),
        ]
    )
    assert (queued, already) == (5, 0)
    assert dict(rejected) == {
        "lib-out": "outside MUSIC_DIR",
        "lib-escape": "outside MUSIC_DIR",
        "lib-none": "no such file",
    }
    # queued ids are not queued twice
    assert analyzer.submit(items[:2]) == (0, 2, [])
    analyzer.run_until_idle()

    status = analyzer.status()
    assert (status.done, status.failed, status.queued, status.running) == (4, 1, 0, None)
    assert status.errors[0][0] == "lib-broken" and "CorruptAudioError" in status.errors[0][1]
    assert len(search) == before + 4
    # Whole songs: the longest file's patches reach its end (133 s), not a 30 s excerpt.
    longest = max(range(4), key=lambda i: load_audio(files[i])[0].size)
    dur = load_audio(files[longest])[0].size / 22050
    row = search.row_of[items[longest].audio_id]
    assert search.patch_start[search.patch_song == row].max() > dur - 5
    assert search.metadata[items[longest].audio_id]["collection"] == "library"
    # Sound-alike lists and search by clip know the library songs.
    assert search.similar(items[0].audio_id, 3)
    y, _ = load_audio(files[longest])
    assert search.query_waveform(y[22050 * 40 : 22050 * 50], n=3)[0].song_id == items[longest].audio_id
    # Analysed again: nothing added twice; persisted for the next start.
    assert analyzer.submit(items) == (0, 4, [])
    reloaded = AudioSearch.load(root / "models", root / "index")
    assert len(reloaded) == before + 4 and set(reloaded.ids) >= {i.audio_id for i in items}
    # The map places them with the catalog's projection.
    catalog_points = [
        {"id": sid, "x": float(i), "y": float(i % 3), "collection": "c"} for i, sid in enumerate(search.ids[:before])
    ]
    placed = extend_map(catalog_points, search)
    assert {p["id"] for p in placed} == set(search.ids)
    assert {p["collection"] for p in placed if p["id"].startswith("lib-")} == {"library"}


def test_library_routes(tmp_path: Path, tiny_model: tuple[Path, Any], tiny_index: tuple[Path, Any]) -> None:
    root = _audio_root(tmp_path, tiny_model, tiny_index)
    music, files = _music(tmp_path)
    settings = Settings(var_dir=tmp_path, audio_dir=root, music_dir=music, admin_token=TOKEN)
    body = {"items": [{"audio_id": f"lib-{i}-x", "path": str(p), "title": p.stem} for i, p in enumerate(files[:2])]}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/library/analyze", json=body).status_code == 401
        for bad in ({"items": [{"audio_id": "../x", "path": "a"}]}, {"items": "no"}, {}):
            resp = client.post("/library/analyze", json=bad, headers=auth)
            assert resp.status_code == 422, resp.text
        assert client.get("/library/status").json()["queued"] == 0  # nothing queued by the refused calls
        answer = client.post("/library/analyze", json=body, headers=auth)
        assert answer.status_code == 202 and answer.json()["queued"] == 2, answer.text
        engine = client.app.state.engine  # type: ignore[attr-defined]
        engine.analyzer.stop()  # let the worker finish what it has; then run the rest here
        engine.analyzer.run_until_idle()
        status = client.get("/library/status").json()
        assert status["enabled"] and status["done"] == 2 and status["queued"] == 0
        assert client.get("/similar/lib-0-x", params={"n": 3}).status_code == 200
        again = client.post("/library/analyze", json=body, headers=auth).json()
        assert (again["queued"], again["already"]) == (0, 2)


def test_without_music_dir_files_are_refused(
    tmp_path: Path, tiny_model: tuple[Path, Any], tiny_index: tuple[Path, Any]
) -> None:
    root = _audio_root(tmp_path, tiny_model, tiny_index)
    _, files = _music(tmp_path)
    with TestClient(create_app(Settings(var_dir=tmp_path, audio_dir=root))) as client:
        answer = client.post("/library/analyze", json={"items": [{"audio_id": "lib-1-a", "path": str(files[0])}]})
        assert answer.status_code == 202
        assert answer.json()["queued"] == 0 and "MUSIC_DIR" in answer.json()["rejected"][0]["reason"]
        assert client.get("/library/status").json()["enabled"] is False


@pytest.mark.parametrize("suffix", [".m4a"])
def test_containers_without_a_decoder_fail_clearly(
    tmp_path: Path, suffix: str, tiny_model: tuple[Path, Any], tiny_index: tuple[Path, Any]
) -> None:
    from audio_service.core.library import LibraryAnalyzer, LibraryItem
    from audio_service.core.search import AudioSearch

    if shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is installed here: m4a decodes")  # the message without ffmpeg is what is tested
    root = _audio_root(tmp_path, tiny_model, tiny_index)
    music = tmp_path / "music"
    music.mkdir()
    (music / f"song{suffix}").write_bytes(b"\0\0\0\x20ftypM4A " + b"\0" * 100)
    analyzer = LibraryAnalyzer(AudioSearch.load(root / "models", root / "index"), music)
    analyzer.submit([LibraryItem("lib-m4a", str(music / f"song{suffix}"))])
    analyzer.run_until_idle()
    assert analyzer.status().failed == 1 and "ffmpeg" in analyzer.status().errors[0][1]
