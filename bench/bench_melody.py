"""Similar melody, over HTTP: comparing two recordings and query by humming, as the gateway asks audio_service.

Run after `make run` has built the catalog, its melodies, the model and the index under ``var/audio``:

    python bench/bench_melody.py [--audio-dir var/audio] [--n 40]

audio_service is started as its own process (uvicorn, loopback) with the shipped version model. Then:

1. *Compare*: ``POST /compare`` of two catalog songs by id, ``--n`` random pairs: the first time a song is
   compared (its recording decoded and its chroma computed) and again (chroma cached); p50/p99 wall time.
2. *Hum*: ``POST /hum`` with ``--n`` synthetic hummed queries (audio_service.core.melody.synth_hum: a generated
   voice, not a person) of random catalog melodies, 8-15 s: p50/p99 wall time and how often the song is in the
   top 10.
3. *Possible versions*: ``GET /versions/{id}`` for ``--n`` songs once the version index is synced: p50/p99, one
   client, then four clients at once (``AUDIO_BLAS_THREADS`` from the environment is passed on).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import publish

REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    import httpx
    import soundfile as sf
    from audio_service.core.catalog import load_catalog
    from audio_service.core.melody import HUM_SR, hum_excerpt, synth_hum
    from musicrec_tools.procs import ManagedProcess, free_port, python_module, wait_http

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio-dir", type=Path, default=REPO / "var/audio")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch bench/RESULTS.md")
    args = parser.parse_args()

    catalog = args.audio_dir / "catalog"
    songs = load_catalog(catalog)
    with np.load(catalog / "melodies.npz") as z:
        melodies = {k: z[k] for k in z.files}
    rng = np.random.default_rng(args.seed)
    port = free_port()
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ) | {"AUDIO_DIR": str(args.audio_dir.resolve()), "VAR_DIR": tmp, "LOG_LEVEL": "warning"}
        proc = ManagedProcess(
            "audio_service",
            python_module("audio_service", "serve", "--port", str(port)),
            env=env,
            log_path=Path(tmp) / "audio.log",
        ).start()
        try:
            wait_http(f"http://127.0.0.1:{port}/health", 300, proc)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                ids = [s["id"] for s in songs]
                pairs = [tuple(rng.choice(len(ids), 2, replace=False)) for _ in range(args.n)]
                cold, warm, passages = [], [], 0
                for i, j in pairs:
                    for bucket in (cold, warm):
                        t0 = time.perf_counter()
                        resp = client.post("/compare", data={"a": ids[i], "b": ids[j]})
                        bucket.append(time.perf_counter() - t0)
                        assert resp.status_code == 200, resp.text
                    passages += int(bool(resp.json()["passages"]))
                out["compare"] = {
                    "pairs": args.n,
                    "cold_p50_ms": round(pct(cold, 50) * 1e3),
                    "cold_p99_ms": round(pct(cold, 99) * 1e3),
                    "cached_p50_ms": round(pct(warm, 50) * 1e3),
                    "cached_p99_ms": round(pct(warm, 99) * 1e3),
                    "pairs_with_a_passage": passages,
                }
                print(json.dumps(out), flush=True)
                hum_times, found = [], 0
                hum_ids = [str(k) for k in rng.choice(sorted(melodies), args.n, replace=False)]
                for sid in hum_ids:
                    y, _ = synth_hum(hum_excerpt(melodies[sid], rng), rng)
                    buf = io.BytesIO()
                    sf.write(buf, y, HUM_SR, format="WAV")
                    t0 = time.perf_counter()
                    resp = client.post("/hum", files={"file": ("hum.wav", buf.getvalue(), "audio/wav")})
                    hum_times.append(time.perf_counter() - t0)
                    assert resp.status_code == 200, resp.text
                    found += int(sid in [i["song_id"] for i in resp.json()["items"][:10]])
                out["hum"] = {
                    "queries": args.n,
                    "melodies": resp.json()["n_melodies"],
                    "p50_ms": round(pct(hum_times, 50) * 1e3),
                    "p99_ms": round(pct(hum_times, 99) * 1e3),
                    "song_in_top10": found,
                }
                print(json.dumps(out), flush=True)
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:  # the version index syncs in the background after start
                    if client.get(f"/versions/{ids[-1]}").json().get("ready"):
                        break
                    time.sleep(5)
                v_times = []
                for sid in [ids[k] for k in rng.choice(len(ids), args.n, replace=False)]:
                    t0 = time.perf_counter()
                    resp = client.get(f"/versions/{sid}")
                    v_times.append(time.perf_counter() - t0)
                    assert resp.status_code == 200, resp.text

                # Four clients at once (one request each at a time): a busy service, where BLAS threads spin.
                def fetch(sid: str) -> float:
                    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as one:
                        t0 = time.perf_counter()
                        r = one.get(f"/versions/{sid}")
                        assert r.status_code == 200, r.text
                        return time.perf_counter() - t0

                busy_ids = [ids[k] for k in rng.choice(len(ids), args.n, replace=False)]
                with ThreadPoolExecutor(4) as pool:
                    busy_times = list(pool.map(fetch, busy_ids))
                out["versions"] = {
                    "songs": args.n,
                    "p50_ms": round(pct(v_times, 50) * 1e3, 1),
                    "p99_ms": round(pct(v_times, 99) * 1e3, 1),
                    "busy_p50_ms": round(pct(busy_times, 50) * 1e3, 1),
                    "busy_p99_ms": round(pct(busy_times, 99) * 1e3, 1),
                    "blas_threads": os.environ.get("AUDIO_BLAS_THREADS", "1"),
                }
                print(json.dumps(out), flush=True)
        finally:
            proc.stop()
    c, h, v = out["compare"], out["hum"], out["versions"]
    assert isinstance(c, dict) and isinstance(h, dict) and isinstance(v, dict)
    body = (
        f"audio_service on loopback, catalog of {len(songs)} rendered songs (generated from public-domain scores), "
        "one client.\n\n| request | p50 | p99 | notes |\n|---|---|---|---|\n"
        f"| `POST /compare`, two songs by id, first time | {c['cold_p50_ms']} ms | {c['cold_p99_ms']} ms | "
        f"{c['pairs']} random pairs: both recordings decoded, chroma, key x tempo search |\n"
        f"| `POST /compare`, the same pairs again | {c['cached_p50_ms']} ms | {c['cached_p99_ms']} ms | "
        f"chroma cached; {c['pairs_with_a_passage']} of {c['pairs']} random pairs shared a passage |\n"
        f"| `POST /hum`, 8-15 s synthetic hum (WAV) | {h['p50_ms']} ms | {h['p99_ms']} ms | pyin + "
        f"{h['melodies']} melodies; the hummed song in the top 10 for {h['song_in_top10']} of {h['queries']} |\n"
        f"| `GET /versions/{{id}}` | {v['p50_ms']} ms | {v['p99_ms']} ms | {v['songs']} songs |\n"
        f"| `GET /versions/{{id}}`, 4 clients at once | {v['busy_p50_ms']} ms | {v['busy_p99_ms']} ms | "
        f"{v['songs']} songs; `AUDIO_BLAS_THREADS={v['blas_threads']}` |\n"
    )
    publish("Similar melody: compare, hum and possible versions over HTTP", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
