"""The first start, watched from the page: a fresh var/ (tiny audio sizes), the sound model prepared in the
background as `make run` does it, the banner naming each step as it advances, then the ready notice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from musicrec_tools.devstack import audio_steps, run_audio_pipeline
from musicrec_tools.procs import python_module, start_redis, wait_http

from .conftest import REPO, Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class FreshStack(Stack):
    """Database and cf model prepared; the audio pipeline left for the test to run in the background."""

    def start(self) -> None:
        import subprocess

        self.procs["redis"] = start_redis(self.redis_port, self.tmp / "redis", self.tmp / "redis.log")
        for name in ("cf_service", "audio_service"):
            self.start_service(name)
        plays = str(self.tmp / "plays.tsv")
        for module, cmd in (
            ("gateway", ["migrate"]),
            ("gateway", ["import-data"]),
            ("gateway", ["export-plays", "--out", plays]),
            ("cf_service", ["train", "--listens", plays, "--out", str(self.var_dir / "cf_models")]),
        ):
            done = subprocess.run(python_module(module, *cmd), env=self.env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
        self.start_service("gateway")
        for name in ("gateway", "cf_service", "audio_service"):
            wait_http(self.url(name, "/health"), timeout=120, proc=self.procs[name])
        httpx.post(self.url("cf_service", "/admin/reload"), timeout=120).raise_for_status()


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshStack]:
    s = FreshStack(tmp_path_factory.mktemp("first-start"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def banner_text(page: Any) -> str:
    return str(
        page.evaluate("() => { const b = document.getElementById('banner'); return b.hidden ? '' : b.innerText; }")
    )


def test_the_banner_follows_the_first_start_to_the_ready_notice(
    fresh: FreshStack, browser: Any, screenshots: Path, console: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=fresh.base_url)
    page = context.new_page()
    console.attach(page)
    steps = audio_steps(REPO / "data", fresh.var_dir, tiny=True)
    worker = threading.Thread(
        target=run_audio_pipeline, args=(steps, fresh.env, fresh.var_dir, fresh.url("audio_service", "")), daemon=True
    )
    worker.start()  # as `make run` does: the site is up, the sound model is prepared in the background
    page.goto("/#/home")
    page.get_by_role("heading", name="Music that fits you").wait_for()
    seen: list[str] = []  # the banner's step and count as they change ("advance": either moves)
    shot = False
    deadline = time.monotonic() + 300
    while worker.is_alive() and time.monotonic() < deadline:
        text = banner_text(page)
        if "Preparing sound matching" in text:
            parts = [p.strip() for p in text.split("Preparing sound matching:", 1)[1].split("·")]
            step = " · ".join(p for p in parts if "left" not in p)  # the time left changes on its own
            if not seen or seen[-1] != step:
                seen.append(step)
            if not shot:
                assert page.get_by_role("progressbar").count() == 1
                page.screenshot(path=str(screenshots / "22-first-start-progress.png"), full_page=True)
                shot = True
        time.sleep(0.3)
    worker.join(timeout=60)
    assert len(seen) >= 2, seen  # the banner named a step, then it advanced (a count or a next step)
    labels = (
        "Rendering the demo catalog",
        "Reading the catalog's melodies",
        "Training the sound model",
        "Indexing",
        "Drawing the map",
        "Adding",
    )
    assert all(s.startswith(labels) for s in seen), seen
    page.wait_for_function(
        "() => document.getElementById('banner').innerText.includes('Sound matching is ready')", timeout=30_000
    )
    page.screenshot(path=str(screenshots / "23-first-start-ready.png"), full_page=True)
    health = httpx.get(fresh.url("gateway", "/api/health"), timeout=30).json()
    assert health["preparation"]["active"] is False and health["components"]["audio_service"]["status"] == "ok"
    assert console.unexpected() == []
    context.close()
