"""Time from `make run`'s launcher start to "serving" (gateway healthy, URL printed), cold and warm.

Cold: an empty VAR_DIR (migrations, import and every later preparation step run).
Warm: the same VAR_DIR again (every step cached): the target is under 30 s.
Measures the launcher (`python -m musicrec_tools.devstack`); `make run` adds only make's stamp check.

    python bench/bench_startup.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section

REPO = Path(__file__).resolve().parents[1]


def start_once(env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "musicrec_tools.devstack", "--no-audio"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if "Open the web page" in line:
                return time.perf_counter() - t
        raise RuntimeError("launcher exited before serving")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def main() -> int:
    from musicrec_tools.procs import free_port

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env |= {
            "VAR_DIR": tmp,
            "GATEWAY_PORT": str(free_port()),
            "CF_PORT": str(free_port()),
            "AUDIO_PORT": str(free_port()),
            "REDIS_PORT": str(free_port()),
        }
        cold = start_once(env)
        warm = start_once(env)
    print(f"cold {cold:.1f}s, warm {warm:.1f}s")
    write_section(
        "make run: time to serving",
        "python bench/bench_startup.py",
        f"""
| start | time to serving (gateway healthy, URL printed) |
|---|---:|
| cold (empty `var/`: migrate, import, every preparation step) | {cold:.1f} s |
| warm (second start, everything cached) | {warm:.1f} s |
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
