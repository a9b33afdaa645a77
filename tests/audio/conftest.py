"""Shared fixtures: one tiny rendered catalog, one tiny trained model and index per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# fast-parsing collections only (the classical quartets take seconds each to parse)
TEST_COLLECTIONS = ["bach", "ryans_mammoth", "essen_folksong", "oneills_1850"]
FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"


@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from audio_service.core.catalog import build_catalog

    out = tmp_path_factory.mktemp("catalog")
    summary = build_catalog(out, limit=16, workers=2, progress=False, collections=TEST_COLLECTIONS)
    return out, summary


@pytest.fixture(scope="session")
def tiny_model(
    tiny_catalog: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    from audio_service.core.train import TrainConfig, train

    out = tmp_path_factory.mktemp("models")
    summary = train(tiny_catalog[0], out, TrainConfig(batch=8, steps=3, holdout=0.25, width=8), progress=False)
    return out, summary


@pytest.fixture(scope="session")
def tiny_index(
    tiny_catalog: tuple[Path, dict[str, Any]],
    tiny_model: tuple[Path, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any]]:
    from audio_service.core.search import build_index_from_catalog

    out = tmp_path_factory.mktemp("index")
    summary = build_index_from_catalog(tiny_catalog[0], tiny_model[0], out)
    return out, summary


@pytest.fixture
def audio_root(
    tmp_path: Path,
    tiny_catalog: tuple[Path, dict[str, Any]],
    tiny_model: tuple[Path, dict[str, Any]],
    tiny_index: tuple[Path, dict[str, Any]],
) -> Path:
    """An AUDIO_DIR of this test's own (``tmp_path/audio``): copies of the tiny catalog, model and index (the
    service writes to them)."""
    import shutil

    root = tmp_path / "audio"
    shutil.copytree(tiny_catalog[0], root / "catalog")
    shutil.copytree(tiny_model[0], root / "models")
    shutil.copytree(tiny_index[0], root / "index")
    return root
