"""Model, training, FAISS index, query facade, evaluation and CLI on a tiny catalog (behaviour, not quality)."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from audio_service.core import index as vindex

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"


def test_training_saves_versioned_model(tiny_model: tuple[Path, dict[str, Any]]) -> None:
    out, summary = tiny_model
    current = (out / "current").read_text().strip()
    assert (out / current / "model.keras").exists()
    meta = json.loads((out / current / "meta.json").read_text())
    assert meta["steps"] == 3 and meta["heldout_ids"] and summary["n_train"] > 0


def test_heldout_split_is_by_id() -> None:
    from audio_service.core.train import is_heldout

    ids = [f"song-{i}" for i in range(2000)]
    frac = np.mean([is_heldout(i, 0.15) for i in ids])
    assert 0.12 < frac < 0.18 and is_heldout("song-7", 0.15) == is_heldout("song-7", 0.15)


def test_embedder_shapes_and_norm(tiny_model: tuple[Path, dict[str, Any]]) -> None:
    from audio_service.core.embed import Embedder

    emb = Embedder.load(tiny_model[0])
    y = (np.random.default_rng(0).normal(size=22050 * 8) * 0.1).astype(np.float32)
    te = emb.embed_track(y)
    assert te.track.shape == (emb.dim,) and te.patches.shape[1] == emb.dim and len(te.starts) == len(te.patches)
    assert np.allclose(np.linalg.norm(te.patches, axis=1), 1, atol=1e-4)


def test_faiss_flat_hnsw_and_recall(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat = vindex.make_index(32, x[:100], hnsw_threshold=500)
    assert vindex.index_kind(flat) == "flat"
    grown = vindex.add_vectors(flat, x[100:], hnsw_threshold=500)  # crosses the threshold
    assert vindex.index_kind(grown) == "hnsw" and grown.ntotal == 600
    assert vindex.recall_at_k(grown, x[:50], 10) > 0.9
    vindex.save_index(grown, tmp_path / "a.faiss")
    again = vindex.load_index(tmp_path / "a.faiss")
    assert again.ntotal == 600


def test_search_facade(
    tiny_catalog: tuple[Path, dict[str, Any]],
    tiny_model: tuple[Path, dict[str, Any]],
    tiny_index: tuple[Path, dict[str, Any]],
) -> None:
    from audio_service.core.catalog import load_catalog
    from audio_service.core.decode import CorruptAudioError, load_audio
    from audio_service.core.search import AudioSearch, UnknownSongError

    songs = load_catalog(tiny_catalog[0])
    search = AudioSearch.load(tiny_model[0], tiny_index[0])
    assert len(search) == len(songs)
    first = songs[0]["id"]
    sim = search.similar(first, 5)
    assert len(sim) == 5 and first not in [s for s, _ in sim]
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(sim))
    with pytest.raises(UnknownSongError):
        search.similar("nope")

    # an exact excerpt is found, with a segment pair pointing at the right place in the song
    y, _ = load_audio(tiny_catalog[0] / songs[1]["file"])
    clip = y[22050 * 6 : 22050 * 12]
    matches = search.query_waveform(clip, n=3)
    assert matches[0].song_id == songs[1]["id"]
    seg = matches[0].segments[0]
    assert abs(seg.song_start - seg.clip_start - 6.0) < 1.0 and seg.clip_end > seg.clip_start
    with pytest.raises(CorruptAudioError):
        search.query_clip(b"not audio at all" * 100)

    # add real recordings without retraining; save + load keeps them
    report = search.add_folder(FIXTURES)
    assert len(report["added"]) == 7 and not report["failed"]
    new_id = report["added"][0]
    assert search.add_song(FIXTURES / sorted(p.name for p in FIXTURES.glob("*.ogg"))[0]) == new_id  # idempotent
    assert search.similar(new_id, 3)
    search.save()
    reloaded = AudioSearch.load(tiny_model[0], tiny_index[0])
    # Every save is a whole new index version: only the newest are kept (3 by default), the current one always.
    for _ in range(4):
        latest = search.save()
    assert sorted(p.name for p in tiny_index[0].iterdir() if p.is_dir())[-1] == latest.name
    assert len([p for p in tiny_index[0].iterdir() if p.is_dir()]) == 3
    assert (tiny_index[0] / "current").read_text().strip() == latest.name
    assert len(reloaded) == len(songs) + 7 and reloaded.metadata[new_id]["collection"] == "uploads"
    hits = reloaded.query_clip(sorted(FIXTURES.glob("*.ogg"))[0], n=3)
    assert hits and hits[0].song_id == new_id

    # concurrent reads
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(5):
                reloaded.similar(first, 3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_evaluate_and_cli(
    tiny_catalog: tuple[Path, dict[str, Any]],
    tiny_model: tuple[Path, dict[str, Any]],
    tiny_index: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    from audio_service.cli import main

    idx = tmp_path / "idx"
    assert (
        main(["index", "--catalog", str(tiny_catalog[0]), "--model-dir", str(tiny_model[0]), "--index-dir", str(idx)])
        == 0
    )
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--catalog",
                str(tiny_catalog[0]),
                "--model-dir",
                str(tiny_model[0]),
                "--index-dir",
                str(idx),
                "--json",
                str(out),
                "--report",
                str(tmp_path / "report.md"),
                "--limit",
                "3",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"cnn", "mfcc", "random"}
    for m in result["models"].values():
        assert set(m) == {"precision@10", "id_top1", "id_top10"} and all(0 <= v <= 1 for v in m.values())
    points = json.loads((tmp_path / "map.json").read_text())
    assert len(points) == len(json.loads((tiny_catalog[0] / "catalog.json").read_text())["songs"])
    assert {"id", "x", "y", "collection"} <= set(points[0])
    assert (tmp_path / "report.png").exists() and "precision@10" in (tmp_path / "report.md").read_text()


def test_evaluate_with_phone_conditions_versions_and_humming(
    tiny_catalog: tuple[Path, dict[str, Any]],
    tiny_model: tuple[Path, dict[str, Any]],
    tiny_index: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The evaluation contract's extra keys, on the tiny catalog (generated renders; figures not meaningful)."""
    import shutil

    from audio_service.cli import main
    from audio_service.core.version_catalog import build_versions
    from audio_service.core.version_model import build_version_model

    catalog = tmp_path / "catalog"
    shutil.copytree(tiny_catalog[0], catalog)
    assert main(["build-melodies", "--catalog", str(catalog), "--workers", "1"]) == 0
    versions = tmp_path / "versions"
    build_versions(versions, n_versions=2, limit=3, held_out=1.0, workers=1, progress=False)
    vmodel = tmp_path / "vmodel"
    vmodel.mkdir()
    build_version_model(widths=(8, 8, 8, 8)).save(vmodel / "model.keras")
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--catalog", str(catalog), "--model-dir", str(tiny_model[0]), "--index-dir", str(tiny_index[0])]
    argv += ["--json", str(out), "--report", str(tmp_path / "report.md"), "--limit", "2", "--conditions"]
    argv += ["--versions", str(versions), "--version-model-dir", str(vmodel), "--hum", "--hum-limit", "2"]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert set(result["id_conditions"]) == {"clean", "phone", "reverb", "noise5db", "speed10", "lossy"}
    assert all(0 <= c["top1"] <= c["top10"] <= 1 and c["n"] == 2 for c in result["id_conditions"].values())
    assert set(result["versions"]) == {"cnn", "version_model", "chroma"}
    for m in result["versions"].values():
        assert {"map", "top1", "top10"} <= set(m) and 0 <= m["map"] <= 1
    assert {"top1", "top10", "mrr"} <= set(result["hum"]) and 0 <= result["hum"]["mrr"] <= 1
    report = (tmp_path / "report.md").read_text()
    assert "phone microphone" in report and "Other versions" in report and "humming" in report
    assert {"models", "n_songs", "model_version"} <= set(result)  # the existing keys stay
