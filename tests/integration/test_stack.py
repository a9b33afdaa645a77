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
from pathlib import Path
from typing import Any

import pytest
from musicrec_tools.procs import free_port, port_open, wait_http

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_every_component_healthy(stack: Any) -> None:
    body = stack.get("gateway", "/health")
    assert body["status"] == "ok", body
    assert {k: v["status"] for k, v in body["components"].items()} == {
        "database": "ok",
        "redis": "ok",
        "cf_service": "ok",
        "audio_service": "ok",
    }
    assert body["components"]["database"]["info"]["users"] >= 1631  # 1,630 imported listeners + admin (+ tests')
    for name in ("cf_service", "audio_service"):
        own = stack.get(name, "/health")
        assert own["service"] == name and own["version"]


def test_a_stopped_service_shows_as_down(stack: Any) -> None:
    stack.procs["audio_service"].stop()
    body = stack.get("gateway", "/api/health")
    assert body["status"] == "degraded"
    assert body["components"]["audio_service"]["status"] == "down"
    assert body["components"]["cf_service"]["status"] == "ok"
    stack.procs["audio_service"].start()
    wait_http(stack.url("audio_service", "/health"), timeout=60, proc=stack.procs["audio_service"])
    assert stack.get("gateway", "/api/health")["status"] == "ok"


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
            [sys.executable, "-m", "musicrec_tools.devstack", "--no-audio"],
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
                assert "train-cf: up to date" in out
            body = get_json(f"http://127.0.0.1:{ports['GATEWAY_PORT']}/health")
            states = {k: v["status"] for k, v in body["components"].items()}
            # --no-audio: audio_service is up but has no model to load, which it reports as degraded.
            assert states == {"database": "ok", "redis": "ok", "cf_service": "ok", "audio_service": "degraded"}, body
        finally:
            proc.send_signal(signal.SIGINT)
            rest = _drain(proc)
        assert proc.returncode == 0, rest
        assert "all processes stopped" in rest
        for port in ports.values():
            assert not port_open("127.0.0.1", int(port)), f"port {port} still open after Ctrl-C"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())
