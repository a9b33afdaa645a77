"""Progress of the preparation steps: the runner's step file, a step's bars, the merged view, the health answer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from musicrec_common import progress
from musicrec_common.progress import StepsFile


def test_steps_and_bars_merge_into_one_view(tmp_path: Path) -> None:
    assert progress.read(tmp_path) is None  # nothing ever recorded
    steps = StepsFile(tmp_path, ["audio-catalog", "audio-train", "audio-index"])
    first = progress.read(tmp_path)
    assert first is not None and first.active and first.steps == 3 and first.step is None
    steps.set("audio-catalog", "done")
    steps.set("audio-train", "running")
    # The step's own process: a bar that reports through the environment.
    code = (
        "from musicrec_common.progress import tqdm\n"
        "import time\n"
        "bar = tqdm(total=700, desc='train', unit='step')\n"
        "for _ in range(350):\n"
        "    bar.update(1)\n"
        "time.sleep(0.6)\n"
        "bar.update(0)\n"
    )
    env = {"MUSICREC_PROGRESS_DIR": str(tmp_path), "MUSICREC_STEP": "audio-train", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    view = progress.read(tmp_path)
    assert view is not None and view.active and view.position == 2
    assert view.step is not None and view.step.name == "audio-train" and view.step.label == "Training the sound model"
    assert (view.step.done, view.step.total, view.step.unit, view.step.detail) == (350, 700, "step", "train")
    assert view.step.eta_s is not None and view.step.eta_s >= 0
    steps.set("audio-train", "done")
    steps.set("audio-index", "done")
    done = progress.read(tmp_path)
    assert done is not None and not done.active and done.finished_at and not done.failed
    # A new run starts clean: the old bar does not show as the new run's.
    StepsFile(tmp_path, ["audio-train"]).set("audio-train", "running")
    again = progress.read(tmp_path)
    assert again is not None and again.step is not None and again.step.done is None


def test_a_failed_or_stale_run_is_not_active(tmp_path: Path) -> None:
    steps = StepsFile(tmp_path, ["audio-catalog", "audio-train"])
    steps.set("audio-catalog", "failed")
    failed = progress.read(tmp_path)
    assert failed is not None and failed.failed and not failed.active and failed.step is not None
    assert failed.step.name == "audio-catalog"
    data = json.loads((tmp_path / "steps.json").read_text())
    data |= {"started_at": time.time() - progress.STALE_S - 1, "finished_at": None}
    data["steps"] = [{"name": "audio-catalog", "state": "running"}]
    (tmp_path / "steps.json").write_text(json.dumps(data))
    stale = progress.read(tmp_path)
    assert stale is not None and not stale.active  # a run that died long ago is not "preparing"
    (tmp_path / "steps.json").write_text("{not json")
    assert progress.read(tmp_path) is None


def test_run_steps_records_each_step(tmp_path: Path) -> None:
    from musicrec_tools.devstack import Step, run_steps

    ok = [sys.executable, "-c", "pass"]
    steps = [Step("audio-catalog", ok), Step("audio-train", ok)]
    run_steps(steps, {"PATH": "/usr/bin:/bin"}, tmp_path / "var", tmp_path / "progress")
    view = progress.read(tmp_path / "progress")
    assert view is not None and not view.active and [i.state for i in view.items] == ["done", "done"]
    bad = [Step("audio-catalog", ok), Step("audio-train", [sys.executable, "-c", "raise SystemExit(3)"])]
    with pytest.raises(SystemExit, match="audio-train failed"):
        run_steps(bad, {"PATH": "/usr/bin:/bin"}, tmp_path / "var2", tmp_path / "progress")
    failed = progress.read(tmp_path / "progress")
    assert failed is not None and failed.failed and [i.state for i in failed.items] == ["done", "failed"]
