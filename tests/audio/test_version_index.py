"""Possible versions (audio_service.core.version_index and GET /versions): songs as passages of the version model,
found again in another key; saved and loaded; synced from the sound index in the background.

The model here is untrained (its key invariance is built in, so an exact transposition still matches exactly);
the trained model's quality is measured by `evaluate-versions` (bench/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_service.core import align
from audio_service.core.compare import FRAME_S
from audio_service.core.version_index import VersionIndex
from audio_service.core.version_model import INDEX_HOP, SEGMENT_FRAMES, build_version_model


@pytest.fixture(scope="module")
def version_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    keras.utils.set_random_seed(0)  # untrained: every passage is close (cosine ~0.997), an exact transposition is 1
    folder = tmp_path_factory.mktemp("vmodel")
    build_version_model(widths=(8, 8, 8, 8)).save(folder / "model.keras")
    return folder


def chords(seed: int, n: int = 400) -> np.ndarray:
    """Chords in C major, held 10 frames each (a clip's notes say its key, as music's do)."""
    rng = np.random.default_rng(seed)
    major = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], np.float32)
    c = np.repeat(rng.random((n // 10, 12)) ** 3 * (0.1 + major), 10, axis=0).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def test_versions_are_found_in_another_key_and_survive_a_reload(tmp_path: Path, version_model: Path) -> None:
    index = VersionIndex.load(version_model, tmp_path / "vindex")
    original, other = chords(1), chords(2)
    index.add("song-a", original)
    index.add("song-a-up3", np.roll(original, 3, axis=1))  # the same music, 3 semitones up
    index.add("song-b", other)
    index.add("song-a", other)  # already there: left alone
    assert len(index) == 3
    everything = index.versions_of("song-a", threshold=-1.0)
    assert {m.song_id for m in everything} == {"song-a-up3", "song-b"}  # never the song itself
    up3, b = everything
    assert up3.song_id == "song-a-up3" and up3.coverage == 1.0
    assert abs(up3.query_start - up3.song_start) < 1e-6
    # The untrained model finds every passage alike; the alignment tells the same music in the same order apart.
    same, other = index.passages_of("song-a-up3"), index.passages_of("song-b")
    assert up3.score - b.score > 0.5, (up3, b)
    assert align.align(index.passages_of("song-a").aligned, same.aligned).transpose == 3
    a = index.passages_of("song-a").aligned
    assert align.score(a, other.aligned) < 0.5 * align.score(a, same.aligned)
    threshold = (up3.score + b.score) / 2
    assert [m.song_id for m in index.versions_of("song-a", threshold=threshold)] == ["song-a-up3"]
    # A 10 s passage of the transposed song finds where it is in the original.
    start = 4 * INDEX_HOP  # on a segment and on a pooled frame of the song
    clip = index.embedder.passages(np.roll(original, 3, axis=1)[start : start + SEGMENT_FRAMES])
    hit = index.match(clip, threshold=-1.0, exclude="song-a-up3")
    assert hit[0].song_id == "song-a" and hit[0].song_start == pytest.approx(start * FRAME_S, abs=0.01)
    assert hit[0].score > hit[1].score + 0.1, hit

    assert index.save_if_due(1e9) is None  # songs came, but the last save is recent: not yet
    assert index.save_if_due(0.0) is not None
    assert index.save_if_due(0.0) is None  # nothing new since
    again = VersionIndex.load(version_model, tmp_path / "vindex")
    assert again.ids == index.ids and np.allclose(again.vectors, index.vectors)
    assert all(np.allclose(a, b) for a, b in zip(again.aligned, index.aligned, strict=True))
    assert [m.song_id for m in again.versions_of("song-a", threshold=threshold)] == ["song-a-up3"]
    with pytest.raises(KeyError):
        again.versions_of("nope")


def test_versions_route_syncs_the_sound_index(tmp_path: Path, version_model: Path, audio_root: Path) -> None:
    from audio_service.app.main import create_app
    from audio_service.app.settings import Settings
    from fastapi.testclient import TestClient

    root = audio_root
    settings = Settings(var_dir=tmp_path, audio_dir=root, version_model_dir=version_model)
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        engine._versions_sync.join(120)
        ids = engine.search.ids
        assert len(engine.versions) == len(ids)  # every catalog song's passages, added in the background
        body = client.get(f"/versions/{ids[0]}", params={"n": 5}).json()
        assert body["ready"] is True and body["threshold"] > 0 and ids[0] not in [i["song_id"] for i in body["items"]]
        assert client.get("/versions/no-such-song").status_code == 404
        assert blas_threads() == {1}  # AUDIO_BLAS_THREADS' default, numpy's and scipy's BLAS
    assert (root / "version_index" / "current").exists()  # saved for the next start
    without = Settings(var_dir=tmp_path, audio_dir=root, version_model_dir=tmp_path / "none", blas_threads=2)
    with TestClient(create_app(without)) as client:
        resp = client.get(f"/versions/{ids[0]}")
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "model_unavailable"
        assert blas_threads() == {2}


def blas_threads() -> set[int]:
    """Threads per call of numpy's and scipy's BLAS in this process."""
    from threadpoolctl import threadpool_info

    found = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["prefix"] == "libscipy_openblas"}
    assert all(any(lib in f for f in found) for lib in ("numpy", "scipy")), found
    return set(found.values())


def test_the_shipped_model_finds_a_transposed_slower_version(tmp_path: Path, audio_root: Path) -> None:
    """With the shipped weights (data/audio/version_model): a catalog song played 3 semitones higher and 10 %
    slower (librosa; generated) is uploaded, and it is the first possible version of the song."""
    import io

    import librosa
    import soundfile as sf
    from audio_service.app.main import create_app
    from audio_service.app.settings import Settings
    from fastapi.testclient import TestClient

    root = audio_root
    token = "v" * 32
    settings = Settings(var_dir=tmp_path, audio_dir=root, admin_token=token)
    assert (settings.version_model / "model.keras").exists(), "the trained version model ships with the code"
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        engine._versions_sync.join(120)
        catalog = [i for i in engine.search.ids if "file" in engine.search.metadata[i]]  # catalog renders
        song = max(catalog, key=lambda i: engine.search.metadata[i].get("duration_s", 0))
        y, sr = librosa.load(str(root / "catalog" / engine.search.metadata[song]["file"]), sr=22050)
        version = librosa.effects.time_stretch(librosa.effects.pitch_shift(y, sr=sr, n_steps=3), rate=0.9)
        buf = io.BytesIO()
        sf.write(buf, version, sr, format="WAV")
        added = client.post(
            "/songs",
            files={"file": ("cover.wav", buf.getvalue(), "audio/wav")},
            data={"song_id": "cover-of-it"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert added.status_code == 201, added.text
        body = client.get(f"/versions/{song}").json()
        assert body["ready"] and body["items"], body
        assert body["items"][0]["song_id"] == "cover-of-it", body["items"]
        assert body["items"][0]["score"] >= body["threshold"]


def test_alignment_backgrounds_are_kept_and_a_new_cohort_rebuilds_the_index(
    tmp_path: Path, version_model: Path
) -> None:
    import shutil

    folder = tmp_path / "vmodel"
    shutil.copytree(version_model, folder)
    align.Cohort([align.align_sequence(chords(100 + i)) for i in range(10)], clip_frames=36).save(folder / "cohort.npz")
    index = VersionIndex.load(folder, tmp_path / "vindex")
    assert index.embedder.cohort is not None and index.embedder.cohort_id != "none"
    original = chords(1)
    index.add("song-a", original)
    index.add("song-a-up3", np.roll(original, 3, axis=1))
    for seed in range(2, 6):
        index.add(f"other-{seed}", chords(seed))
    background = index.passages_of("song-a").background
    assert background.shape == (4,) and background[1] >= align.MIN_SPREAD and background[0] != 0.0
    found = index.versions_of("song-a", threshold=-np.inf)
    assert found[0].song_id == "song-a-up3" and found[0].score > found[1].score + 0.5, found
    index.save()
    again = VersionIndex.load(folder, tmp_path / "vindex")
    assert np.allclose(again.background, index.background) and again.ids == index.ids
    # Another cohort measures other backgrounds: the index starts again (the background sync re-adds its songs).
    align.Cohort([align.align_sequence(chords(300 + i)) for i in range(10)], clip_frames=36).save(folder / "cohort.npz")
    assert len(VersionIndex.load(folder, tmp_path / "vindex")) == 0


def test_rows_grow_in_place_and_earlier_views_stay_valid() -> None:
    from audio_service.core.version_index import _Rows

    rng = np.random.default_rng(4)
    rows = _Rows(np.zeros((0, 3), np.float32))
    parts, views = [], []
    for _ in range(40):  # songs of 0-30 segments: many appends, several regrowths
        part = rng.random((int(rng.integers(0, 30)), 3)).astype(np.float32)
        rows.extend(part)
        parts.append(part)
        views.append((rows.array, np.concatenate(parts)))
        assert len(rows.array) == sum(len(p) for p in parts)
    for view, expected in views:  # what a reader held before later appends is unchanged
        assert np.array_equal(view, expected)
    assert rows._buf.shape[0] < 2 * len(rows.array) + 64  # amortised: the buffer at most doubles past what it holds


def test_melody_lines_beside_the_weights_are_kept_and_aligned_too(tmp_path: Path, version_model: Path) -> None:
    """A melody-line model beside the weights (``melody.keras``, here untrained): every song keeps its pooled
    melody line and background, the melody alignment adds to version_score, the index survives a reload, and an
    index built without melody lines starts again."""
    import dataclasses
    import shutil

    import keras
    from audio_service.core.melody_line import build_melody_model, spectrum
    from audio_service.core.version_model import MELODY_COHORT_FILE, MELODY_FILE, version_score

    folder = tmp_path / "vmodel"
    shutil.copytree(version_model, folder)
    plain = VersionIndex.load(folder, tmp_path / "vindex")
    plain.add("song-a", chords(1))
    saved = plain.save()
    assert plain.embedder.melody is None and plain.passages_of("song-a").melody.shape == (0, 12)
    # An index written before melody lines (format 3) is still read, not rebuilt.
    import json

    with np.load(saved / "segments.npz") as z:
        np.savez(saved / "segments.npz", **{k: z[k] for k in z.files if not k.startswith("melody")})
    meta = json.loads((saved / "ids.json").read_text())
    (saved / "ids.json").write_text(json.dumps(meta | {"format": 3}))
    old = VersionIndex.load(folder, tmp_path / "vindex")
    assert old.ids == ["song-a"] and old.passages_of("song-a").melody.shape == (0, 12)
    assert [m.song_id for m in old.versions_of("song-a", threshold=-np.inf)] == []

    keras.utils.set_random_seed(1)
    build_melody_model(widths=(4, 4), context=1).save(folder / MELODY_FILE)
    cohort = align.Cohort([align.align_sequence(chords(100 + i)) for i in range(10)], clip_frames=36)
    cohort.save(folder / MELODY_COHORT_FILE)
    index = VersionIndex.load(folder, tmp_path / "vindex")
    assert len(index) == 0  # built without melody lines: starts again
    embedder = index.embedder
    assert embedder.melody is not None and embedder.melody_cohort is not None
    assert embedder.version == plain.embedder.version + f"+melody@{embedder.melody.version}"

    original, tune = chords(1), chords(11)  # a song's chroma and its melody chroma (generated)
    index.add("song-a", original, tune)
    index.add("song-a-up3", np.roll(original, 3, axis=1), np.roll(tune, 3, axis=1))
    index.add("song-b", chords(2), chords(12))
    a, up3 = index.passages_of("song-a"), index.passages_of("song-a-up3")
    assert len(a.melody) == len(align.align_sequence(tune)) and a.melody_background[1] >= align.MIN_SPREAD
    without = dataclasses.replace(a, melody=np.zeros((0, 12), np.float32))
    assert version_score(a, up3) > version_score(without, up3) + 0.3  # the same tune, 3 semitones up
    assert version_score(without, up3) == version_score(without, dataclasses.replace(up3, melody=a.melody))
    found = index.versions_of("song-a", threshold=-np.inf)
    assert found[0].song_id == "song-a-up3"

    # Audio: the melody line read by the extractor, the same from a spectrum computed elsewhere (a worker).
    t = np.arange(8 * 22050) / 22050
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    index.add_audio("tone", y, 22050)
    from_audio = embedder.melody_chroma(y, 22050)
    assert from_audio is not None and from_audio.shape[1] == 12
    assert np.allclose(embedder.melody_of_spectrum(spectrum(y, 22050)), from_audio, atol=1e-5)
    assert len(index.passages_of("tone").melody) == len(align.align_sequence(from_audio))

    index.save()
    again = VersionIndex.load(folder, tmp_path / "vindex")
    assert again.ids == index.ids
    for x, z in zip(again.melody, index.melody, strict=True):
        assert np.allclose(x, z)
    assert np.allclose(again.passages_of("song-b").melody_background, index.passages_of("song-b").melody_background)


def test_threaded_sync_builds_the_same_index_in_the_catalogs_order(
    tmp_path: Path, version_model: Path, tiny_catalog: tuple[Path, dict[str, object]]
) -> None:
    """add_recordings with several threads: every readable song, in the metadata's order, the same vectors and
    backgrounds as one thread; a missing file is reported, not added; a stop before the start adds nothing."""
    import json
    import threading

    from audio_service.core.recordings import Folders
    from audio_service.core.version_index import add_recordings

    catalog = tiny_catalog[0]
    songs = json.loads((catalog / "catalog.json").read_text())["songs"]
    metadata: dict[str, dict[str, object]] = {s["id"]: s for s in songs}
    metadata["gone"] = {"file": "audio/nowhere/gone.ogg"}  # its file moved away
    folders = Folders(catalog=catalog, uploads=tmp_path / "uploads")
    one = VersionIndex.load(version_model, tmp_path / "one")
    many = VersionIndex.load(version_model, tmp_path / "many")
    assert add_recordings(one, metadata, folders, workers=1, progress=False)["added"] == len(songs)
    summary = add_recordings(many, metadata, folders, workers=3, progress=False)
    assert summary["added"] == len(songs) and summary["failed"] == 1
    assert "NoRecordingError" in summary["errors"]["gone"]  # type: ignore[index]
    assert many.ids == one.ids == [s["id"] for s in songs]
    assert np.array_equal(many.vectors, one.vectors)
    assert all(np.array_equal(a, b) for a, b in zip(many.aligned, one.aligned, strict=True))
    assert np.array_equal(many._background.array, one._background.array)
    stopped = VersionIndex.load(version_model, tmp_path / "stopped")
    stop = threading.Event()
    stop.set()
    assert add_recordings(stopped, metadata, folders, workers=2, progress=False, stop=stop)["added"] == 0
    assert len(stopped) == 0
