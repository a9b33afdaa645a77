"""Catalog builder: corpus selection, rendering, metadata, caching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from audio_service.core import catalog as C


def test_full_work_list_is_large_and_diverse() -> None:
    works = C.list_works()
    assert len(works) >= 1000
    assert len({w.collection for w in works}) >= 8
    assert len({w.id for w in works}) == len(works)  # stable unique ids
    assert C.list_works(limit=50) == works[:50]
    assert len({w.collection for w in works[:16]}) == 8  # interleaved


def test_render_and_metadata(tiny_catalog: tuple[Path, dict[str, Any]]) -> None:
    out, summary = tiny_catalog
    songs = C.load_catalog(out)
    assert summary["n_songs"] == len(songs) >= 12
    assert summary["n_songs"] + summary["n_failed"] == 16
    for s in songs:
        for key in (
            "id",
            "title",
            "composer",
            "collection",
            "instruments",
            "key",
            "tempo_bpm",
            "duration_s",
            "source_path",
        ):
            assert s[key] not in (None, "", [])
        assert set(s["programs"]) <= set(C.PROGRAM_POOL)
        info = sf.info(out / s["file"])
        assert info.samplerate == 22050 and info.channels == 1 and info.format == "OGG"
        assert C.MIN_DURATION_S <= info.duration <= 30.5


def test_orchestration_is_deterministic_and_shared() -> None:
    works = C.list_works(collections=["bach", "ryans_mammoth"])
    a = np.random.default_rng(C.work_seed(works[0].id)).choice(C.PROGRAM_POOL, 4)
    b = np.random.default_rng(C.work_seed(works[0].id)).choice(C.PROGRAM_POOL, 4)
    assert a.tolist() == b.tolist()


def test_rebuild_uses_cache(tiny_catalog: tuple[Path, dict[str, Any]]) -> None:
    out, first = tiny_catalog
    again = C.build_catalog(
        out,
        limit=16,
        workers=1,
        progress=False,
        collections=["bach", "ryans_mammoth", "essen_folksong", "oneills_1850"],
    )
    assert again["n_cached"] == first["n_songs"] and again["n_rendered"] == 0


def test_estimate_key() -> None:
    c_major = np.array([60, 62, 64, 65, 67, 69, 71, 72, 60, 64, 67])
    assert C.estimate_key(c_major, np.ones(len(c_major))) == "C major"
