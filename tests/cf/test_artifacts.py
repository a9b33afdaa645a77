"""Training into versioned artifacts, the atomic current switch, precompute."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cf_service import cli
from cf_service.core.artifacts import current_version, load_current, model_info
from cf_service.core.training import train

PARAMS = {
    "weights": {"itemknn": 1.0, "ease": 1.0, "als": 0.5},
    "rrf_k": 5.0,
    "depth": 20,
    "members": {
        "itemknn": {"alpha": 0.5, "q": 1.0, "k": 20},
        "ease": {"lam": 1.0, "max_items": 100},
        "als": {"factors": 4, "iterations": 20, "transform": {"kind": "log1p"}, "alpha": 2.0, "regularization": 0.1},
    },
}


def test_train_writes_versions_and_switches_current(toy: pd.DataFrame, tmp_path: Path) -> None:
    first = train(toy, tmp_path, params=PARAMS, progress=False)
    assert current_version(tmp_path) == first.version
    assert (tmp_path / first.version / "manifest.json").exists()
    vote = load_current(tmp_path)
    info = model_info(vote)
    assert info["version"] == first.version and info["n_users"] == 16 and info["n_songs"] == 12
    assert info["trained_at"]
    assert vote.recommend("rock0", n=1).song_ids == ["R5"]

    second = train(toy, tmp_path, params=PARAMS, progress=False)
    assert second.version != first.version
    assert current_version(tmp_path) == second.version
    assert (tmp_path / first.version).exists()  # old versions kept for rollback (the newest 3 by default)
    assert not list(tmp_path.glob(".*"))  # no staging leftovers
    files = [p for p in (tmp_path / second.version).rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".npz", ".json"}


def cli_inputs(toy: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """The toy listens as a TSV and PARAMS as a JSON file, as the CLI reads them."""
    listens = folder / "listens.tsv"
    toy.to_csv(listens, sep="\t", index=False)
    params = folder / "params.json"
    params.write_text(json.dumps(PARAMS))
    return listens, params


def test_only_the_newest_versions_are_kept(toy: pd.DataFrame, tmp_path: Path) -> None:
    listens, params = cli_inputs(toy, tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    (models / ".20990101T000000Z-deadbeef.x1").mkdir()  # a training's staging folder: never touched
    args = ["train", "--listens", str(listens), "--out", str(models), "--params", str(params), "--quiet"]
    versions = []
    for _ in range(4):
        assert cli.main([*args, "--keep", "2"]) == 0
        versions.append(current_version(models))
    assert len(set(versions)) == 4
    left = sorted(p.name for p in models.iterdir() if p.is_dir())
    assert left == sorted([".20990101T000000Z-deadbeef.x1", *versions[-2:]])
    assert model_info(load_current(models))["version"] == versions[-1]
    train(toy, models, params=PARAMS, progress=False)  # the default keeps 3
    assert len([p for p in models.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 3
    with pytest.raises(SystemExit):
        cli.main([*args, "--keep", "0"])


def test_train_and_precompute_cli(toy: pd.DataFrame, tmp_path: Path) -> None:
    listens, params = cli_inputs(toy, tmp_path)
    model_dir = tmp_path / "models"
    assert (
        cli.main(["train", "--listens", str(listens), "--out", str(model_dir), "--params", str(params), "--quiet"]) == 0
    )
    out = tmp_path / "pre.jsonl"
    assert (
        cli.main(["precompute", "--model-dir", str(model_dir), "--out", str(out), "--n-user", "5", "--n-song", "3"])
        == 0
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    users = [x for x in lines if x["type"] == "user"]
    songs = [x for x in lines if x["type"] == "song"]
    assert len(users) == 16 and len(songs) == 12
    rock0 = next(x for x in users if x["user_id"] == "rock0")
    assert rock0["songs"][0] == "R5" and len(rock0["songs"]) == 5
    assert all(len(x["similar"]) <= 3 for x in songs)
    r1 = next(x for x in songs if x["song_id"] == "R1")
    assert r1["similar"] and all(s.startswith("R") for s in r1["similar"])
