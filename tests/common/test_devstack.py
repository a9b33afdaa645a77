"""The launcher's cached steps: keys follow inputs, and a missing input means "run", not a crash."""

from __future__ import annotations

import sys
from pathlib import Path

from musicrec_tools.devstack import Step, audio_steps, preparation_steps, run_steps


def test_step_key_changes_with_inputs_and_tolerates_missing_ones(tmp_path: Path) -> None:
    target = tmp_path / "pointer"
    step = Step("x", [sys.executable, "-c", "pass"], [target])
    missing = step.key({})
    target.write_text("v1")
    first = step.key({})
    target.write_text("v2")
    assert len({missing, first, step.key({})}) == 3
    assert step.key({"DATABASE_URL": "sqlite:///other.db"}) != step.key({})


def test_import_reruns_when_the_metadata_files_change(tmp_path: Path) -> None:
    """An existing installation gets repaired names on its next `make run`: the import's key follows both files."""
    data = tmp_path / "data"
    (data / "msd").mkdir(parents=True)
    for name in ("songs.tsv", "songs_doubtful.tsv", "listens_10000_head.tsv"):
        (data / "msd" / name).write_text("v1")
    step = next(s for s in preparation_steps(data, tmp_path / "var") if s.name == "import-msd")
    keys = {step.key({})}
    for name in ("songs.tsv", "songs_doubtful.tsv"):
        (data / "msd" / name).write_text("v2")
        keys.add(step.key({}))
    assert len(keys) == 3


def test_cached_step_runs_once(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    step = Step("touch", [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"])
    for _ in range(2):
        run_steps([step], {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert marker.read_text() == "x"


def test_audio_steps_use_the_model_pointer_audio_service_writes(tmp_path: Path) -> None:
    steps = {s.name: s for s in audio_steps(tmp_path / "data", tmp_path / "var")}
    assert tmp_path / "var" / "audio" / "models" / "current" in steps["audio-index"].inputs
    tiny = {s.name: s for s in audio_steps(tmp_path / "data", tmp_path / "var", tiny=True, folder=tmp_path)}
    assert "--steps" in tiny["audio-train"].argv and "--folder" in tiny["audio-index"].argv
