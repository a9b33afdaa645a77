"""One-shot preparation for containers: the steps of ``make run``, for docker compose and Kubernetes.

    python musicrec_init.py core     migrate, import the MSD sample, demo users, export plays, train CF,
                                     publish the precomputed lists to Redis (then reload cf_service if asked)
    python musicrec_init.py audio    render the catalog, train the CNN, index, map, import the catalog songs,
                                     then reload audio_service
    python musicrec_init.py retrain  export plays, retrain CF when they changed, reload every cf_service
                                     replica, publish again (the Kubernetes CronJob, `docker compose run retrain`)
    python musicrec_init.py all      core, then audio (the Kubernetes init Job)

The steps are :mod:`musicrec_tools.devstack`'s own (``preparation_steps`` and ``audio_steps``), run by its
cached ``run_steps``, so containers prepare exactly what ``make run`` prepares. Two differences, because a
container's volumes can be recreated independently of the stamps in ``VAR_DIR/stamps``:

* database steps always run (they are idempotent and take seconds; a new database volume must be filled);
* a model step whose output is gone loses its stamp, so it runs again.

Environment: ``VAR_DIR``, ``DATA_DIR``, ``DATABASE_URL``, ``REDIS_URL`` (publish), ``CF_RELOAD_URL`` /
``AUDIO_RELOAD_URL`` (reload after training: every address the host name resolves to is reloaded, so a
Kubernetes headless Service reaches every replica), ``CF_ADMIN_TOKEN``, ``AUDIO_ADMIN_TOKEN``, ``MUSICREC_AUDIO_SIZE``
(``full`` or ``tiny``, the test size), ``WAIT_TIMEOUT_S`` (how long to wait for the database and Redis).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from musicrec_tools.devstack import Step, audio_steps, preparation_steps, progress_dir, run_steps
from musicrec_tools.procs import python_module

PHASES = ("core", "audio", "retrain", "all")

# Idempotent database steps: cheap, and the database volume may be newer than the stamps.
ALWAYS = frozenset({"migrate", "import-msd", "demo-users", "scan-library", "export-plays", "import-catalog"})

# What each cached model step leaves behind; a missing output invalidates the step's stamp.
OUTPUTS: dict[str, Callable[[Path], Path]] = {
    "train-cf": lambda var: var / "cf_models" / "current.json",
    "audio-catalog": lambda var: var / "audio" / "catalog" / "catalog.json",
    "audio-melodies": lambda var: var / "audio" / "catalog" / "melodies.npz",
    "audio-train": lambda var: var / "audio" / "models" / "current",
    "audio-index": lambda var: var / "audio" / "index",
    "audio-map": lambda var: var / "audio" / "map.json",
}

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "redis": 6379, "rediss": 6379}


def for_containers(steps: list[Step], var_dir: Path) -> list[Step]:
    """devstack's steps with the two container rules applied (see the module docstring)."""
    out = []
    for step in steps:
        if step.name in ALWAYS:
            step = dataclasses.replace(step, always=True)
        elif step.name in OUTPUTS:
            output = OUTPUTS[step.name](var_dir)
            if not output.exists() or (output.is_dir() and not any(output.iterdir())):
                (var_dir / "stamps" / f"{step.name}.sha256").unlink(missing_ok=True)
        else:
            raise SystemExit(f"[init] devstack step {step.name!r} is not classified in musicrec_init.py")
        out.append(step)
    return out


def plan(
    phase: str, data_dir: Path, var_dir: Path, *, tiny_audio: bool = False, music_dir: Path | None = None
) -> list[Step]:
    """The cached steps of one phase, in order (reloads and publishing come after them)."""
    core = preparation_steps(data_dir, var_dir, music_dir)
    audio = audio_steps(data_dir, var_dir, tiny=tiny_audio)
    steps = {
        "core": core,
        "audio": audio,
        "retrain": [s for s in core if s.name in ("export-plays", "train-cf")],
        "all": core + audio,
    }[phase]
    return for_containers(steps, var_dir)


def publish_argv(var_dir: Path, redis_url: str) -> list[str]:
    return python_module("cf_service", "publish", "--redis-url", redis_url, "--model-dir", str(var_dir / "cf_models"))


def endpoint(url: str) -> tuple[str, int] | None:
    """(host, port) of a database or Redis URL; None for a file database (SQLite)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or DEFAULT_PORTS.get(scheme, 80)


def wait_for(url: str, timeout: float) -> None:
    """Block until the server behind ``url`` accepts TCP connections (compose orders start-up, Kubernetes does not)."""
    target = endpoint(url)
    if target is None:
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(target, timeout=3):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"[init] {target[0]}:{target[1]} unreachable after {timeout:.0f}s: {exc}") from exc
            time.sleep(2)


def reload_all(base_url: str, token: str | None = None, timeout: float = 300.0) -> list[str]:
    """POST ``/admin/reload`` to every address ``base_url``'s host resolves to; returns the URLs reloaded."""
    parts = urllib.parse.urlsplit(base_url)
    if not parts.hostname:
        raise SystemExit(f"[init] not a URL: {base_url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # e.g. a headless Service without ready pods yet: the Job's retry comes back later
        raise SystemExit(f"[init] cannot resolve {parts.hostname} to reload it: {exc}") from exc
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = []
    for address in sorted({str(info[4][0]) for info in infos}):
        host = f"[{address}]" if ":" in address else address
        url = f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}/admin/reload"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="POST", headers=headers), timeout=timeout):
                pass
        except OSError as exc:  # URLError and HTTPError (401: wrong CF_/AUDIO_ADMIN_TOKEN) are OSErrors
            raise SystemExit(f"[init] reload {url} failed: {exc}") from exc
        print(f"[init] reloaded {url}", flush=True)
        done.append(url)
    return done


def run_command(argv: list[str], env: dict[str, str]) -> None:
    name = " ".join(argv[2:4])  # "cf_service publish": the arguments may hold a Redis password
    print(f"[init] {name}", flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"[init] {name} failed (exit {result.returncode})")
    print(f"[init] done in {time.monotonic() - started:.1f}s", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musicrec_init.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("phase", choices=PHASES)
    parser.add_argument(
        "--audio-size",
        choices=("full", "tiny"),
        default=os.environ.get("MUSICREC_AUDIO_SIZE", "full"),
        help="tiny: the test-size audio pipeline (16 songs, a 3-step CNN); default MUSICREC_AUDIO_SIZE",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    var_dir = Path(env.get("VAR_DIR", "/var/lib/musicrec")).resolve()
    data_dir = Path(env.get("DATA_DIR", "/app/data")).resolve()
    env["VAR_DIR"], env["DATA_DIR"] = str(var_dir), str(data_dir)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    timeout = float(env.get("WAIT_TIMEOUT_S", "300"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        if env.get(name):
            wait_for(env[name], timeout)

    phases = ["core", "audio"] if args.phase == "all" else [args.phase]
    for phase in phases:
        started = time.monotonic()
        # A mounted music folder with files in it is scanned (the gateway then has it analysed by audio_service).
        music = Path(env["MUSIC_DIR"]) if env.get("MUSIC_DIR") else None
        music = music if music is not None and music.is_dir() and any(music.iterdir()) else None
        steps = plan(phase, data_dir, var_dir, tiny_audio=args.audio_size == "tiny", music_dir=music)
        run_steps(steps, env, var_dir, progress_dir(var_dir) if phase == "audio" else None)
        if phase in ("core", "retrain"):
            if env.get("CF_RELOAD_URL"):
                reload_all(env["CF_RELOAD_URL"], env.get("CF_ADMIN_TOKEN"))
            if not env.get("REDIS_URL"):
                raise SystemExit("[init] REDIS_URL is not set: nowhere to publish the precomputed lists")
            run_command(publish_argv(var_dir, env["REDIS_URL"]), env)
        elif env.get("AUDIO_RELOAD_URL"):
            reload_all(env["AUDIO_RELOAD_URL"], env.get("AUDIO_ADMIN_TOKEN"))
        print(f"[init] {phase}: ready in {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
