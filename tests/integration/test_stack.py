"""The real processes on loopback: embedded redis-server, cf_service, audio_service, gateway."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from musicrec_common.procs import ManagedProcess, free_port, port_open, python_module, start_redis, wait_http

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def get_json(url: str) -> dict:
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
        }
        self.procs: dict[str, ManagedProcess] = {}

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(self) -> None:
        for cmd in (["migrate"], ["import-data"]):
            subprocess.run(python_module("gateway", *cmd), env=self.env, check=True, capture_output=True)
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def test_every_component_healthy(stack: Stack) -> None:
    body = get_json(stack.url("gateway", "/health"))
    assert body["status"] == "ok", body
    assert {k: v["status"] for k, v in body["components"].items()} == {
        "database": "ok",
        "redis": "ok",
        "cf_service": "ok",
        "audio_service": "ok",
    }
    assert body["components"]["database"]["info"]["users"] == 1630
    for name in ("cf_service", "audio_service"):
        own = get_json(stack.url(name, "/health"))
        assert own["service"] == name and own["version"]


def test_a_stopped_service_shows_as_down(stack: Stack) -> None:
    stack.procs["audio_service"].stop()
    body = get_json(stack.url("gateway", "/api/health"))
    assert body["status"] == "degraded"
    assert body["components"]["audio_service"]["status"] == "down"
    assert body["components"]["cf_service"]["status"] == "ok"
    stack.procs["audio_service"].start()
    wait_http(stack.url("audio_service", "/health"), timeout=60, proc=stack.procs["audio_service"])
    assert get_json(stack.url("gateway", "/api/health"))["status"] == "ok"


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Collect the launcher's output until ``marker``; a thread reads so no buffered line is missed."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    proc._seen_lines = lines  # type: ignore[attr-defined]  # _drain keeps reading after the marker
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} not printed within {timeout}s:\n{''.join(seen)}")


def _drain(proc: subprocess.Popen[str]) -> str:
    """Output printed after the marker, once the launcher has exited."""
    proc.wait(timeout=60)
    lines: queue.Queue[str | None] = proc._seen_lines  # type: ignore[attr-defined]
    out = []
    while True:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            break
        if line is None:
            break
        out.append(line)
    return "".join(out)


def test_make_run_launcher_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    """`make run`'s launcher: embedded Redis + 3 services, URL printed, Ctrl-C stops all; second start is cached."""
    ports = {k: str(free_port()) for k in ("GATEWAY_PORT", "CF_PORT", "AUDIO_PORT", "REDIS_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= ports | {"VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    env.pop("CF_SERVICE_URL", None)
    env.pop("AUDIO_SERVICE_URL", None)
    for attempt in ("first", "second"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "musicrec_common.devstack"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            out = _read_until(proc, "Open the web page", timeout=240)
            assert f"http://127.0.0.1:{ports['GATEWAY_PORT']}/" in out
            if attempt == "second":
                assert "import-msd: up to date" in out and "migrate: up to date" in out
            body = get_json(f"http://127.0.0.1:{ports['GATEWAY_PORT']}/health")
            assert body["status"] == "ok", body
            assert body["components"]["redis"]["status"] == "ok"
        finally:
            proc.send_signal(signal.SIGINT)
            rest = _drain(proc)
        assert proc.returncode == 0, rest
        assert "all processes stopped" in rest
        for port in ports.values():
            assert not port_open("127.0.0.1", int(port)), f"port {port} still open after Ctrl-C"
