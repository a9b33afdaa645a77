"""``make run``: prepare data, start Redis and the three services, stop them all on Ctrl-C.

Each preparation step is cached under ``VAR_DIR/stamps``: a step runs again
only when its inputs, its command or the database URL change, so a second
start only launches processes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from musicrec_common.settings import REPO_ROOT

from musicrec_tools.procs import ManagedProcess, port_open, python_module, start_redis, wait_http

# Step processes still running (the background audio pipeline): stopped with everything else.
RUNNING_STEPS: set[subprocess.Popen[bytes]] = set()


def stop_steps() -> None:
    for proc in list(RUNNING_STEPS):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue


@dataclass
class Step:
    """One cached preparation command."""

    name: str
    argv: list[str]
    inputs: list[Path] = field(default_factory=list)
    always: bool = False  # cheap steps whose output feeds a cached one (e.g. exporting plays)

    def key(self, env: dict[str, str]) -> str:
        digest = hashlib.sha256()
        digest.update(" ".join(self.argv[1:]).encode())
        digest.update(env.get("DATABASE_URL", "").encode())
        for path in self.inputs:
            files = (
                sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
            )
            if not files:
                digest.update(b"missing:" + str(path).encode())  # not built yet: the step must run
            for file in files:
                digest.update(str(file.relative_to(REPO_ROOT) if file.is_relative_to(REPO_ROOT) else file).encode())
                digest.update(
                    file.read_bytes() if file.stat().st_size < 64 << 20 else str(file.stat().st_mtime).encode()
                )
        return digest.hexdigest()


def run_steps(steps: list[Step], env: dict[str, str], var_dir: Path, progress_dir: Path | None = None) -> None:
    """Run the steps whose inputs changed, in order; with ``progress_dir``, record their progress there
    (:mod:`musicrec_common.progress`: the gateway's health answer shows it on the page)."""
    from musicrec_common.progress import ENV_DIR, ENV_STEP, StepsFile

    stamps = var_dir / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    record = StepsFile(progress_dir, [s.name for s in steps]) if progress_dir is not None else None
    for step in steps:
        stamp = stamps / f"{step.name}.sha256"
        key = step.key(env)
        if not step.always and stamp.exists() and stamp.read_text().strip() == key:
            print(f"[prepare] {step.name}: up to date")
            if record is not None:
                record.set(step.name, "done")
            continue
        print(f"[prepare] {step.name}: {' '.join(step.argv[1:])}", flush=True)
        started = time.monotonic()
        step_env = env
        if record is not None:
            record.set(step.name, "running")
            step_env = env | {ENV_DIR: str(progress_dir), ENV_STEP: step.name}
        proc = subprocess.Popen(step.argv, env=step_env, cwd=REPO_ROOT)
        RUNNING_STEPS.add(proc)
        try:
            returncode = proc.wait()
        finally:
            RUNNING_STEPS.discard(proc)
        if returncode != 0:
            if record is not None:
                record.set(step.name, "failed")
            raise SystemExit(f"[prepare] {step.name} failed (exit {returncode})")
        stamp.write_text(key)
        if record is not None:
            record.set(step.name, "done")
        print(f"[prepare] {step.name}: done in {time.monotonic() - started:.1f}s", flush=True)


def progress_dir(var_dir: Path) -> Path:
    """Where the audio pipeline records its progress (inside the audio folder: compose shares it read only
    with the gateway)."""
    return var_dir / "audio" / "progress"


def preparation_steps(data_dir: Path, var_dir: Path, music_dir: Path | None = None) -> list[Step]:
    """Everything the services need before they start, in order (``music_dir``: scan the user's music too)."""
    gateway_src = REPO_ROOT / "services" / "gateway" / "gateway"
    plays = var_dir / "plays.tsv"
    # The scan is incremental (unchanged files are not read again): it runs on every start.
    # Its sound analysis is asked for by the running gateway (audio_service is not up yet here).
    scan = python_module("gateway", "scan-library", str(music_dir), "--analyse", "no")
    library = [Step("scan-library", scan, always=True)]
    return [
        Step("migrate", python_module("gateway", "migrate"), [gateway_src / "migrations" / "versions"]),
        Step(
            "import-msd",
            python_module("gateway", "import-data"),
            # A changed file (e.g. repaired metadata) re-runs the import, which updates existing songs.
            [
                data_dir / "msd" / "songs.tsv",
                data_dir / "msd" / "songs_doubtful.tsv",
                data_dir / "msd" / "listens_10000_head.tsv",
            ],
        ),
        Step("demo-users", python_module("gateway", "create-demo-users")),
        *(library if music_dir is not None else []),
        # Training data = imported listens + the app's own plays; retrain only when they changed.
        Step("export-plays", python_module("gateway", "export-plays", "--out", str(plays)), always=True),
        Step(
            "train-cf",
            python_module("cf_service", "train", "--listens", str(plays), "--out", str(var_dir / "cf_models")),
            [plays],
        ),
    ]


# The same real pipeline at test size: 16 rendered songs, a 3-step CNN, a 2-song evaluation.
TINY_AUDIO = {
    "audio-catalog": ["--limit", "16", "--collections", "bach,ryans_mammoth,essen_folksong,oneills_1850"],
    "audio-train": ["--steps", "3", "--batch", "8", "--holdout", "0.25"],
    "audio-map": ["--limit", "2"],
}


def audio_steps(data_dir: Path, var_dir: Path, *, tiny: bool = False, folder: Path | None = None) -> list[Step]:
    """The audio pipeline: render the catalog, read its melodies, train the CNN, index, map; then import the
    catalog songs.

    Slow on a first start (about 20 minutes on 2 cores), so it runs after the site is up; audio_service
    reloads when it is done and reports "degraded" until then. ``tiny`` is the test size; ``folder`` adds
    a folder of recordings to the index.
    """
    audio = var_dir / "audio"
    catalog = audio / "catalog" / "catalog.json"
    model = audio / "models" / "current"  # audio_service's version pointer (a text file)
    # 700 steps take about 7 minutes on 2 idle cores; the time cap keeps a busy machine's first start bounded.
    sizes = TINY_AUDIO if tiny else {"audio-train": ["--steps", "700", "--minutes", "12"]}
    where = ["--catalog", str(audio / "catalog"), "--model-dir", str(audio / "models")]
    index_extra = ["--folder", str(folder)] if folder else []

    def step(name: str, command: str, args: list[str], inputs: list[Path]) -> Step:
        return Step(name, python_module("audio_service", command, *args, *sizes.get(name, [])), inputs)

    return [
        step("audio-catalog", "build-catalog", ["--out", str(audio / "catalog")], []),
        step("audio-melodies", "build-melodies", ["--catalog", str(audio / "catalog")], [catalog]),
        step("audio-train", "train", ["--catalog", str(audio / "catalog"), "--out", str(audio / "models")], [catalog]),
        step("audio-index", "index", [*where, "--index-dir", str(audio / "index"), *index_extra], [catalog, model]),
        step(
            "audio-map",
            "evaluate",
            [
                *where,
                "--index-dir",
                str(audio / "index"),
                "--json",
                str(audio / "evaluation.json"),
                "--map",
                str(audio / "map.json"),
                "--report",
                str(audio / "report.md"),
            ],
            [model],
        ),
        Step("import-catalog", python_module("gateway", "import-catalog", "--catalog", str(catalog)), [catalog]),
    ]


def run_audio_pipeline(steps: list[Step], env: dict[str, str], var_dir: Path, audio_url: str) -> None:
    """Background thread body: run the audio steps, then make audio_service load the result."""
    import urllib.request

    try:
        run_steps(steps, env, var_dir, progress_dir(var_dir))
    except SystemExit as exc:
        print(f"[audio] pipeline stopped: {exc} (see var/logs); audio search stays unavailable", flush=True)
        return
    try:
        token = env.get("AUDIO_ADMIN_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(f"{audio_url}/admin/reload", method="POST", headers=headers)
        urllib.request.urlopen(request, timeout=120)
        print("[audio] audio_service reloaded its model and index: search by sound is ready", flush=True)
    except OSError as exc:
        print(f"[audio] reload failed: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicrec_tools.devstack", description=__doc__)
    parser.add_argument("--prepare-only", action="store_true", help="prepare data and exit")
    parser.add_argument("--no-prepare", action="store_true", help="start the processes only")
    parser.add_argument("--no-audio", action="store_true", help="skip the audio pipeline (catalog, CNN, index)")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    var_dir = Path(env.get("VAR_DIR", REPO_ROOT / "var")).resolve()
    data_dir = Path(env.get("DATA_DIR", REPO_ROOT / "data")).resolve()
    env["VAR_DIR"], env["DATA_DIR"] = str(var_dir), str(data_dir)
    music_dir = Path(env["MUSIC_DIR"]).expanduser().resolve() if env.get("MUSIC_DIR") else None
    if music_dir is not None:
        env["MUSIC_DIR"] = str(music_dir)  # the gateway streams the library's files from there
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    logs = var_dir / "logs"
    gateway_port = int(env.setdefault("GATEWAY_PORT", "8000"))
    cf_port = int(env.setdefault("CF_PORT", "8001"))
    audio_port = int(env.setdefault("AUDIO_PORT", "8002"))
    env.setdefault("CF_SERVICE_URL", f"http://127.0.0.1:{cf_port}")
    env.setdefault("AUDIO_SERVICE_URL", f"http://127.0.0.1:{audio_port}")

    try:
        if not args.no_prepare:
            run_steps(preparation_steps(data_dir, var_dir, music_dir), env, var_dir)
        if args.prepare_only:
            if not args.no_audio:
                run_steps(audio_steps(data_dir, var_dir), env, var_dir)
            return 0
    except KeyboardInterrupt:
        stop_steps()
        print("\n[run] interrupted while preparing; nothing is left running", flush=True)
        return 130

    started: list[ManagedProcess] = []
    publisher: ManagedProcess | None = None

    def stop_all(*_: object) -> None:
        for proc in reversed(started):
            proc.stop()
        started.clear()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicitly, for SIGINT too: a launcher started in the background inherits SIGINT as ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if "REDIS_URL" not in env:
            redis_port = int(env.get("REDIS_PORT", "6390"))
            if port_open("127.0.0.1", redis_port):
                raise SystemExit(f"port {redis_port} is taken: set REDIS_PORT, or REDIS_URL to use that server")
            started.append(start_redis(redis_port, var_dir / "redis", logs / "redis.log"))
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            print(f"[run] embedded redis-server on 127.0.0.1:{redis_port}")
        services = [("cf_service", cf_port), ("audio_service", audio_port), ("gateway", gateway_port)]
        for name, port in services:
            if port_open("127.0.0.1", port):
                raise SystemExit(f"port {port} for {name} is taken: stop what uses it or set its *_PORT variable")
        for name, port in services:
            proc = ManagedProcess(
                name,
                python_module(name, "serve", "--port", str(port)),
                env=env,
                log_path=logs / f"{name}.log",
                cwd=REPO_ROOT,
            ).start()
            started.append(proc)
        for (name, port), proc in zip(services, started[-3:], strict=True):
            wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc)
            print(f"[run] {name} is up on http://127.0.0.1:{port} (log: {proc.log_path})")
        # Precomputed lists go into Redis in the background: until then the gateway asks cf_service.
        publisher = ManagedProcess(
            "publish",
            python_module("cf_service", "publish", "--redis-url", env["REDIS_URL"]),
            env=env,
            log_path=logs / "publish.log",
            cwd=REPO_ROOT,
        ).start()
        if not args.no_prepare and not args.no_audio:
            threading.Thread(
                target=run_audio_pipeline,
                daemon=True,
                args=(audio_steps(data_dir, var_dir), env, var_dir, env["AUDIO_SERVICE_URL"]),
            ).start()
        health = wait_http(f"http://127.0.0.1:{gateway_port}/health", timeout=30)
        components = health.get("components", {})
        assert isinstance(components, dict)
        states = ", ".join(f"{k}={v.get('status')}" for k, v in components.items())
        print(f"[run] health: {health.get('status')} ({states})")
        print(
            f"\n  Open the web page: http://127.0.0.1:{gateway_port}/\n  API docs:          "
            f"http://127.0.0.1:{gateway_port}/docs\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            for proc in started:
                if not proc.alive():
                    print(f"[run] {proc.name} exited unexpectedly; last log lines:\n{proc.tail()}", file=sys.stderr)
                    raise SystemExit(1)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\n[run] stopping ...", flush=True)
        return 0
    finally:
        if publisher is not None:
            publisher.stop()
        stop_steps()
        stop_all()
        print("[run] all processes stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
