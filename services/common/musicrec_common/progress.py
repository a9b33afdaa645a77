"""Progress of the long preparation work (first start), shared through small JSON files.

The runner of the preparation steps (``make run``'s background audio pipeline, the containers' init) writes
``DIR/steps.json``: every step with its state. A step's own process reports how far it is through its progress
bars: :class:`tqdm` here is tqdm that also writes ``DIR/step-<name>.json`` when ``MUSICREC_PROGRESS_DIR`` and
``MUSICREC_STEP`` are set (at most twice a second). :func:`read` merges both into a :class:`Preparation` that the
gateway's health answer carries to the page. Files are replaced atomically; a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from tqdm import tqdm as _tqdm

ENV_DIR = "MUSICREC_PROGRESS_DIR"
ENV_STEP = "MUSICREC_STEP"
STALE_S = 6 * 3600  # a "running" record older than this is from a run that died: not shown as running

LABELS = {
    "audio-catalog": "Rendering the demo catalog",
    "audio-melodies": "Reading the catalog's melodies",
    "audio-train": "Training the sound model",
    "audio-index": "Indexing the catalog's sound",
    "audio-map": "Drawing the map of the catalog",
    "import-catalog": "Adding the catalog's songs",
    "library-analysis": "Analysing the sound of your music",
}


class StepProgress(BaseModel):
    name: str
    label: str
    state: str = Field(description="pending, running, done or failed")
    done: int | None = Field(default=None, description="Units done in the step's current bar")
    total: int | None = None
    unit: str | None = Field(default=None, description="What is counted: song, step, file ...")
    detail: str | None = Field(default=None, description="The current bar's name (e.g. `log-mel`, `train`)")
    eta_s: float | None = Field(default=None, description="Estimated seconds left in this step")


class Preparation(BaseModel):
    """Background preparation (first start: the sound model; a music folder: its analysis)."""

    active: bool = Field(description="Whether work is still going on")
    step: StepProgress | None = Field(default=None, description="The step running now (or the last one)")
    position: int = Field(default=0, description="1-based position of that step")
    steps: int = Field(default=0, description="Number of steps")
    failed: bool = False
    finished_at: float | None = Field(default=None, description="Unix time the work ended (when not active)")
    items: list[StepProgress] = Field(default_factory=list)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class StepsFile:
    """The runner's side: the plan and each step's state (``DIR/steps.json``)."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.directory = directory
        self.path = directory / "steps.json"
        self.data: dict[str, Any] = {
            "started_at": time.time(),
            "finished_at": None,
            "steps": [{"name": n, "state": "pending"} for n in names],
        }
        for name in names:  # an earlier run's bars must not show as this run's
            (directory / f"step-{name}.json").unlink(missing_ok=True)
        _write(self.path, self.data)

    def set(self, name: str, state: str) -> None:
        for step in self.data["steps"]:
            if step["name"] == name:
                step["state"] = state
                step["at"] = time.time()
        if state == "failed" or all(s["state"] in ("done", "skipped") for s in self.data["steps"]):
            self.data["finished_at"] = time.time()
        _write(self.path, self.data)


class tqdm(_tqdm):  # type: ignore[type-arg]
    """tqdm that also reports to the preparation's progress files when run as a preparation step."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._report_path: Path | None = None
        directory, step = os.environ.get(ENV_DIR), os.environ.get(ENV_STEP)
        if directory and step:
            self._report_path = Path(directory) / f"step-{step}.json"
            if kwargs.get("disable", False) is None:
                kwargs["disable"] = False  # report even when stderr is not a terminal (logs, containers)
        self._last_report = 0.0
        super().__init__(*args, **kwargs)
        self._report(force=True)

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        self._report()
        return shown

    def close(self) -> None:
        self._report(force=True)
        super().close()

    def _report(self, force: bool = False) -> None:
        if self._report_path is None or (not force and time.monotonic() - self._last_report < 0.5):
            return
        self._last_report = time.monotonic()
        if self.disable:
            return
        fmt = self.format_dict
        total, n, rate = fmt.get("total"), fmt.get("n", 0), fmt.get("rate")
        if rate is None and n and fmt.get("elapsed"):
            rate = n / max(1e-6, fmt["elapsed"])
        eta = (total - n) / rate if total and rate else None
        data = {
            "detail": self.desc or None,
            "done": int(n),
            "total": int(total) if total else None,
            "unit": fmt.get("unit") or None,
            "eta_s": round(eta, 1) if eta is not None else None,
            "at": time.time(),
        }
        try:
            _write(self._report_path, data)
        except OSError:
            self._report_path = None  # a read-only folder: report nothing rather than fail the step


def read(directory: Path) -> Preparation | None:
    """The preparation recorded under ``directory`` (None when nothing was ever recorded there)."""
    data = _read(directory / "steps.json")
    if data is None:
        return None
    items = []
    for step in data.get("steps", []):
        name = str(step.get("name"))
        item = StepProgress(name=name, label=LABELS.get(name, name), state=str(step.get("state", "pending")))
        if item.state == "running":
            bar = _read(directory / f"step-{name}.json")
            if bar is not None:
                item.done, item.total, item.unit = bar.get("done"), bar.get("total"), bar.get("unit")
                item.detail, item.eta_s = bar.get("detail"), bar.get("eta_s")
        items.append(item)
    started = float(data.get("started_at") or 0)
    fresh = time.time() - started < STALE_S
    failed = any(i.state == "failed" for i in items)
    active = data.get("finished_at") is None and fresh and not failed
    current = next((i for i in items if i.state == "running"), None) or next(
        (i for i in reversed(items) if i.state in ("done", "failed")), None
    )
    return Preparation(
        active=active,
        step=current,
        position=items.index(current) + 1 if current is not None else 0,
        steps=len(items),
        failed=failed,
        finished_at=data.get("finished_at"),
        items=items,
    )
