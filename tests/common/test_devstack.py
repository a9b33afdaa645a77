"""The launcher's cached steps: keys follow inputs, and a missing input means "run", not a crash."""

from __future__ import annotations

import sys
from pathlib import Path

from musicrec_common.devstack import Step, audio_steps, run_steps


def test_step_key_changes_with_inputs_and_tolerates_missing_ones(tmp_path: Path) -> None:
    target = tmp_path / "pointer"
    step = Step("x", [sys.executable, "-c", "pass"], [target])
    missing = step.key({})
    target.write_text("v1")
    first = step.key({})
    target.write_text("v2")
    assert len({missing, first, step.key({})}) == 3
    assert step.key({"DATABASE_URL": "sqlite:///other.db"}) != step.key({})


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
