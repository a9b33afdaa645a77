"""Browser tests: the real stack on loopback (SQLite, redis-server, cf_service, audio_service, gateway)
driven by Playwright with the system's Chromium.

Needs `pip install playwright` and a Chromium binary (Debian: `apt-get install chromium`); set
`CHROMIUM_PATH` to use another binary. Screenshots of every step go to tests/browser/screenshots/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from musicrec_tools.devstack import audio_steps
from musicrec_tools.procs import ManagedProcess, free_port, python_module, start_redis, wait_http

REPO = Path(__file__).resolve().parents[2]
FIXTURE_AUDIO = REPO / "data" / "audio" / "fixtures" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--headless=new",
    "--autoplay-policy=no-user-gesture-required",
]
SERVICES = ("cf_service", "audio_service")


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class CatalogSong:
    id: int
    title: str
    artist: str


@dataclass
class Stack:
    """Every process of a local deployment, on free loopback ports, with its own VAR_DIR and database."""

    tmp: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, ManagedProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    song: CatalogSong | None = None
    fixture_audio: Path = FIXTURE_AUDIO

    def __post_init__(self) -> None:
        self.ports = {"gateway": free_port(), "cf_service": free_port(), "audio_service": free_port()}
        self.redis_port = free_port()
        self.var_dir = self.tmp / "var"
        self.db_url = f"sqlite:///{self.tmp / 'browser.db'}"
        self.env = dict(os.environ) | {
            "VAR_DIR": str(self.var_dir),
            "DATABASE_URL": self.db_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CF_SERVICE_URL": f"http://127.0.0.1:{self.ports['cf_service']}",
            "AUDIO_SERVICE_URL": f"http://127.0.0.1:{self.ports['audio_service']}",
            "LOG_LEVEL": "warning",
            # Empty until a test fills it (tests/browser/test_library.py), and emptied again after it.
            "MUSIC_DIR": str(self.tmp / "music"),
        }
        (self.tmp / "music").mkdir(parents=True, exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def _prepare_database(self) -> None:
        recordings = self.tmp / "recordings"
        recordings.mkdir(exist_ok=True)
        shutil.copyfile(FIXTURE_AUDIO, recordings / FIXTURE_AUDIO.name)
        steps = [
            ("gateway", ["migrate"]),
            ("gateway", ["import-data"]),
            ("gateway", ["export-plays", "--out", str(self.tmp / "plays.tsv")]),
            (
                "cf_service",
                ["train", "--listens", str(self.tmp / "plays.tsv"), "--out", str(self.var_dir / "cf_models")],
            ),
        ]
        argvs = [python_module(module, *cmd) for module, cmd in steps]
        # The real audio pipeline at test size (plus the fixture recording in the index), as `make run` runs it.
        argvs += [step.argv for step in audio_steps(REPO / "data", self.var_dir, tiny=True, folder=recordings)]
        for argv in argvs:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{argv[2:4]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        self.song = self._add_catalog_song()

    def _add_catalog_song(self) -> CatalogSong:
        """A `catalog` song whose recording is a copy of the Vibe Ace fixture under VAR_DIR."""
        from gateway.db.models import Song, SongSource
        from gateway.db.session import make_engine
        from sqlalchemy.orm import Session

        target = self.var_dir / "audio" / "catalog" / FIXTURE_AUDIO.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURE_AUDIO, target)
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as db:
                song = Song(
                    source=SongSource.catalog,
                    title="Vibe Ace",
                    artist="Kevin MacLeod",
                    release="Jazz Sampler",
                    genre="Jazz",
                    collection="fixtures",
                    audio_path=str(target),
                    # the id audio_service gave the recording when it indexed the folder
                    audio_id="upload-" + hashlib.sha1(FIXTURE_AUDIO.read_bytes()).hexdigest()[:16],
                )
                db.add(song)
                db.commit()
                return CatalogSong(id=song.id, title=song.title or "", artist=song.artist or "")
        finally:
            engine.dispose()

    def start_service(self, name: str) -> None:
        self.procs[name] = ManagedProcess(
            name,
            python_module(name, "serve", "--port", str(self.ports[name])),
            env=self.env,
            log_path=self.tmp / f"{name}.log",
        ).start()

    def start(self) -> None:
        self.procs["redis"] = start_redis(self.redis_port, self.tmp / "redis", self.tmp / "redis.log")
        for name in SERVICES:  # they start (import their ML stacks) while the database is filled
            self.start_service(name)
        self._prepare_database()
        self.start_service("gateway")
        for name in ("gateway", *SERVICES):
            wait_http(self.url(name, "/health"), timeout=120, proc=self.procs[name])
        # audio_service and cf_service started before their models existed: load them now.
        httpx.post(self.url("audio_service", "/admin/reload"), timeout=120).raise_for_status()
        httpx.post(self.url("cf_service", "/admin/reload"), timeout=120).raise_for_status()

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("browser-stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


class ConsoleWatch:
    """Collects page errors and console errors (CSP violations show up there)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))

    def unexpected(self) -> list[str]:
        # Failed API calls (404 for endpoints a server does not have yet, 401 before login, 5xx while a
        # service is down) are logged by Chromium as "Failed to load resource": the UI handles them.
        return [e for e in self.errors if "Failed to load resource" not in e]


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()
