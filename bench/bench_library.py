"""A 1,000-file music folder: scan speed, sound-analysis throughput, and audio_service killed mid-analysis.

    python bench/bench_library.py [--files 1000] [--kill-at 0.3] [--no-write]

The folder is generated (labelled as such): full-length songs (150-330 s, 22.05 kHz mono FLAC) synthesised from
chords, a bass line and noise bursts, each tagged with the artist and title of a real MSD song of
``data/msd/songs.tsv``. Then, as a user runs it:

1. ``python -m gateway scan-library DIR --analyse no`` into a fresh SQLite database holding the MSD metadata: files
   per second (tags, content hash of every byte, MSD matching, database writes).
2. audio_service (a real process, on this machine's cores) with a model of the shipped architecture
   (``TrainConfig().width``; untrained weights: the cost does not depend on them) and ``MUSIC_DIR`` set;
   ``scan-library --analyse send`` hands it the files. When ``--kill-at`` of them are analysed, audio_service is
   killed with SIGKILL and started again, and ``scan-library --analyse send`` runs again: the analysis resumes.
3. Checked: every file analysed exactly once in the end (index size = files, no id twice), and the throughput
   (full-length tracks per minute, decode included) over the time audio_service was working.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
SR = 22050


def synth_song(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Mono float32 ``(seconds * SR,)``: bars of chords over a bass note with a noise-burst beat."""
    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    bpm = rng.uniform(70, 150)
    beat = 60.0 / bpm
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    progression = rng.integers(0, 12, size=4)
    bar = 4 * beat
    chord_idx = (t // bar).astype(int) % 4
    y = np.zeros(n, np.float32)
    for interval in (0, 4, 7):
        freq = root * 2 ** ((progression[chord_idx] + interval) / 12)
        phase = np.cumsum(freq / SR, dtype=np.float64)
        y += (0.12 * np.sin(2 * np.pi * phase)).astype(np.float32)
    bass_phase = np.cumsum(root / 2 * 2 ** (progression[chord_idx] / 12) / SR, dtype=np.float64)
    y += (0.15 * np.sin(2 * np.pi * bass_phase)).astype(np.float32)
    env = np.exp(-((t % beat) / 0.05)).astype(np.float32)
    y += 0.2 * env * rng.standard_normal(n).astype(np.float32)
    return (y / max(1e-6, float(np.abs(y).max())) * 0.8).astype(np.float32)


def write_library(folder: Path, files: int, seed: int = 0) -> tuple[int, float]:
    """The generated folder; returns (files, total seconds of audio)."""
    import mutagen
    import soundfile as sf
    from match_eval import read_songs
    from tqdm import tqdm

    rows = read_songs()
    pick = random.Random(seed).sample(rows, files)
    rng = np.random.default_rng(seed)
    total = 0.0
    for i, (_, artist, title, _) in enumerate(tqdm(pick, desc="generate", unit="file")):
        seconds = float(rng.uniform(150, 330))
        total += seconds
        path = folder / f"artist{i % 97:02d}" / f"album{i % 13:02d}" / f"{i:04d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, synth_song(seconds, rng), SR, format="FLAC")
        audio = mutagen.File(path, easy=True)
        audio["artist"], audio["title"], audio["album"], audio["tracknumber"] = artist, title, f"Album {i % 13}", str(i)
        audio.save()
    return files, total


def said(stdout: str) -> str:
    """The line of scan-library's output about the sound analysis."""
    return next((line for line in stdout.splitlines() if line.startswith("sound analysis")), "(nothing said)")


def make_model(models: Path) -> None:
    """A model of the shipped architecture under ``models/current`` (the weights do not change the cost)."""
    from audio_service.core.artifacts import set_current
    from audio_service.core.model import build_embedding_model
    from audio_service.core.train import TrainConfig

    folder = models / "vbench"
    folder.mkdir(parents=True)
    build_embedding_model(width=TrainConfig().width).save(folder / "model.keras")
    (folder / "meta.json").write_text(json.dumps({"note": "bench: shipped architecture, untrained"}))
    set_current(models, folder.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--kill-at", type=float, default=0.3, help="kill audio_service when this share is analysed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from gateway.db.importer import import_data
    from gateway.db.migrate import upgrade
    from gateway.db.session import make_engine
    from musicrec_tools.procs import ManagedProcess, free_port, python_module, wait_http
    from results import publish

    with tempfile.TemporaryDirectory(prefix="bench_library_") as tmp_name:
        tmp = Path(tmp_name)
        music = tmp / "music"
        started = time.perf_counter()
        n_files, audio_s = write_library(music, args.files)
        gen_s = time.perf_counter() - started
        size_gb = sum(p.stat().st_size for p in music.rglob("*.flac")) / 1024**3
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        import_data(engine, songs_path=REPO / "data" / "msd" / "songs.tsv", listens_paths=[])
        engine.dispose()
        port = free_port()
        env = dict(os.environ) | {
            "DATABASE_URL": url,
            "VAR_DIR": str(tmp / "var"),
            "AUDIO_DIR": str(tmp / "audio"),
            "MUSIC_DIR": str(music),
            "AUDIO_PORT": str(port),
            "AUDIO_SERVICE_URL": f"http://127.0.0.1:{port}",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        scan = python_module("gateway", "scan-library", str(music))

        t0 = time.perf_counter()
        done = subprocess.run([*scan, "--analyse", "no"], env=env, capture_output=True, text=True, check=True)
        scan_s = time.perf_counter() - t0
        counts = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"scan: {counts} in {scan_s:.1f} s", flush=True)

        make_model(tmp / "audio" / "models")
        service = ManagedProcess(
            "audio_service",
            python_module("audio_service", "serve", "--port", str(port)),
            env=env,
            log_path=tmp / "a.log",
        ).start()
        wait_http(f"http://127.0.0.1:{port}/health", timeout=180, proc=service)

        def status() -> dict[str, object]:
            return dict(httpx.get(f"http://127.0.0.1:{port}/library/status", timeout=30).json())

        working = 0.0  # seconds audio_service spent analysing (its down time left out)
        t1 = time.perf_counter()
        subprocess.run([*scan, "--analyse", "send"], env=env, capture_output=True, text=True, check=True)
        kill_after = max(1, int(args.kill_at * n_files))
        while int(status()["done"]) + int(status()["failed"]) < kill_after:  # type: ignore[call-overload]
            time.sleep(1.0)
        before_kill = status()
        working += time.perf_counter() - t1
        service.kill()
        print(f"killed audio_service after {before_kill['done']} analysed", flush=True)
        time.sleep(2.0)
        t_restart = time.perf_counter()
        service = ManagedProcess(
            "audio_service",
            python_module("audio_service", "serve", "--port", str(port)),
            env=env,
            log_path=tmp / "b.log",
        ).start()
        wait_http(f"http://127.0.0.1:{port}/health", timeout=180, proc=service)
        restart_s = time.perf_counter() - t_restart
        kept = int(httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json()["info"]["index_size"])
        t2 = time.perf_counter()
        resumed = subprocess.run([*scan, "--analyse", "send"], env=env, capture_output=True, text=True, check=True)
        print(said(resumed.stdout), flush=True)
        while True:
            st = status()
            if not st["queued"] and not st["running"]:
                break
            time.sleep(1.0)
        working += time.perf_counter() - t2
        after = status()
        again = subprocess.run([*scan, "--analyse", "send"], env=env, capture_output=True, text=True, check=True)
        index_size = int(httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json()["info"]["index_size"])
        service.stop()
        current = (tmp / "audio" / "index" / "current").read_text().strip()
        with np.load(tmp / "audio" / "index" / current / "tracks.npz", allow_pickle=False) as z:
            ids = [str(i) for i in z["ids"]]
    analysed = int(before_kill["done"]) + int(after["done"])  # type: ignore[call-overload]
    failed = int(before_kill["failed"]) + int(after["failed"])  # type: ignore[call-overload]
    reanalysed = analysed - n_files + failed
    per_min = analysed / working * 60
    body = f"""
Generated folder (synthetic songs, labelled as such): {n_files:,} FLAC files, {audio_s / 3600:.1f} h of audio
(150-330 s each, mean {audio_s / n_files:.0f} s), {size_gb:.1f} GB, tagged with real MSD artists and titles; generated
in {gen_s:.0f} s. Machine: {os.cpu_count()} cores; audio_service runs the shipped model architecture (untrained
weights: the cost is the same).

| step | measured |
|---|---:|
| `scan-library` (tags, sha256 of every byte, MSD matching, SQLite) | {scan_s:.1f} s ({n_files / scan_s:.1f} files/s); {counts.get("matched", 0)} matched to the MSD |
| sound analysis, whole songs, decode included | {per_min:.1f} tracks/min ({working / analysed:.2f} s a track) |
| audio_service killed (SIGKILL) after | {before_kill["done"]} tracks analysed; {kept} were in the saved index at restart (restart {restart_s:.0f} s) |
| resumed by running `scan-library` again | {said(resumed.stdout)} |
| in the end | index {index_size:,} songs for {n_files:,} files; ids twice: {len(ids) - len(set(ids))}; failed: {failed}; analysed again after the kill: {reanalysed} |
| a further `scan-library` | {said(again.stdout)} |

Anchor: AudioMuse-AI needs 6-11 s a track.
"""
    publish("Music folder: scan, sound analysis and a killed audio_service", body, write=not args.no_write)
    ok = index_size == n_files - failed and len(ids) == len(set(ids))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
