"""The real stack on loopback used by the integration and reliability tests (fixture: tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from musicrec_tools.devstack import audio_steps
from musicrec_tools.procs import ManagedProcess, free_port, python_module, start_redis, wait_http

REPO = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "integration-demo-password"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = {"gateway": free_port(), "cf_service": free_port(), "audio_service": free_port()}
        self.redis_port = free_port()
        self.env = dict(os.environ) | {
            "VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": f"sqlite:///{tmp / 'stack.db'}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CF_SERVICE_URL": f"http://127.0.0.1:{self.ports['cf_service']}",
            "AUDIO_SERVICE_URL": f"http://127.0.0.1:{self.ports['audio_service']}",
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "OPENBLAS_NUM_THREADS": "1",
            # The suites send hundreds of uploads from 127.0.0.1 (bad audio, fuzzing); the limit itself is
            # tested in-process (tests/gateway/test_audio_query_limit.py).
            "AUDIO_QUERY_LIMIT": "1000000",
            # A music folder (empty until a test fills it): audio_service may read it, the gateway streams it.
            "MUSIC_DIR": str(tmp / "music"),
            "LIBRARY_SYNC_S": "2",
        }
        (tmp / "music").mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, ManagedProcess] = {}

    def get(self, name: str, path: str) -> Any:
        return get_json(self.url(name, path))

    def gateway_settings(self) -> Any:
        """Settings of an in-process gateway on this stack's database, Redis and services, configured as the
        stack's own gateway process is (the fuzzers drive such an app through ASGI)."""
        from gateway.app.settings import Settings

        return Settings(
            database_url=self.env["DATABASE_URL"],
            redis_url=self.env["REDIS_URL"],
            cf_service_url=self.env["CF_SERVICE_URL"],
            audio_service_url=self.env["AUDIO_SERVICE_URL"],
            var_dir=self.tmp / "var",
            serve_frontend=False,
            audio_query_limit=int(self.env["AUDIO_QUERY_LIMIT"]),
        )

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(self) -> None:
        plays = str(self.tmp / "plays.tsv")
        for module, cmd in (
            ("gateway", ["migrate"]),
            ("gateway", ["import-data"]),
            ("gateway", ["create-demo-users"]),
            ("gateway", ["export-plays", "--out", plays]),
            ("cf_service", ["train", "--listens", plays, "--out", str(self.tmp / "var" / "cf_models")]),
        ):
            result = subprocess.run(python_module(module, *cmd), env=self.env, capture_output=True, text=True)
            assert result.returncode == 0, f"{module} {cmd[0]} failed:\n{result.stderr[-3000:]}"
        # The real audio pipeline at test size, exactly as `make run` runs it at full size.
        for step in audio_steps(REPO / "data", self.tmp / "var", tiny=True):
            result = subprocess.run(step.argv, env=self.env, capture_output=True, text=True)
            assert result.returncode == 0, f"{step.name} failed:\n{result.stderr[-3000:]}"
        self.procs["redis"] = start_redis(self.redis_port, self.tmp / "redis", self.tmp / "redis.log")
        for name, port in self.ports.items():
            self.procs[name] = ManagedProcess(
                name, python_module(name, "serve", "--port", str(port)), env=self.env, log_path=self.tmp / f"{name}.log"
            ).start()
        for name in self.ports:
            wait_http(self.url(name, "/health"), timeout=90, proc=self.procs[name])

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


# The session-scoped `stack` fixture that starts this Stack is in tests/conftest.py: the reliability tests
# (tests/reliability) share the same running stack instead of building a second one.
