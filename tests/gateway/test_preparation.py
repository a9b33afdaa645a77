"""The first start's progress reaches scripts and the page through the gateway's health answer."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from gateway.app.main import create_app
from musicrec_common.progress import StepsFile

from .conftest import make_settings


def test_health_carries_the_preparation_while_it_runs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").json()["preparation"] is None  # nothing was ever prepared here
        steps = StepsFile(settings.var_dir / "audio" / "progress", ["audio-catalog", "audio-train"])
        steps.set("audio-catalog", "running")
        body = client.get("/api/health").json()
        prep = body["preparation"]
        assert prep["active"] and prep["position"] == 1 and prep["steps"] == 2
        assert prep["step"]["label"] == "Rendering the demo catalog" and prep["step"]["state"] == "running"
        steps.set("audio-catalog", "done")
        steps.set("audio-train", "done")
        done = client.get("/health").json()["preparation"]
        assert not done["active"] and done["finished_at"] and not done["failed"]
        schema = client.get("/openapi.json").json()
        assert "Preparation" in schema["components"]["schemas"]  # documented for scripts


def test_the_music_folders_analysis_shows_as_preparation(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from gateway.app.health import preparation
    from musicrec_common.schemas import ComponentHealth

    state = SimpleNamespace(settings=SimpleNamespace(var_dir=tmp_path))
    busy = ComponentHealth(
        status="ok", info={"library": {"queued": 30, "running": True, "done": 9, "failed": 1, "eta_s": 12.5}}
    )
    prep = preparation(state, busy)  # type: ignore[arg-type]
    assert prep is not None and prep.active and prep.step is not None
    assert (prep.step.name, prep.step.done, prep.step.total, prep.step.eta_s) == ("library-analysis", 10, 41, 12.5)
    idle = ComponentHealth(status="ok", info={"library": {"queued": 0, "running": False, "done": 40, "failed": 1}})
    assert preparation(state, idle) is None  # nothing queued, no pipeline ever recorded
    # The first start's pipeline, while it runs, comes first.
    StepsFile(tmp_path / "audio" / "progress", ["audio-train"]).set("audio-train", "running")
    first = preparation(state, busy)  # type: ignore[arg-type]
    assert first is not None and first.step is not None and first.step.name == "audio-train"
