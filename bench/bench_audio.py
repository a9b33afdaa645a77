"""Latency of the audio query core (run after build-catalog, train and index).

Usage: python bench/bench_audio.py --catalog DIR --model-dir DIR --index-dir DIR [--n 20]
Prints JSON: median/p95 seconds of embedding a 30 s song, similar(), and query of a 5 s clip.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()

    from audio_service.core.catalog import load_catalog
    from audio_service.core.decode import load_audio
    from audio_service.core.search import AudioSearch

    search = AudioSearch.load(args.model_dir, args.index_dir)
    songs = load_catalog(args.catalog)[: args.n]
    timings: dict[str, list[float]] = {"embed_30s": [], "similar": [], "query_5s": []}
    search.embedder.embed_track(load_audio(args.catalog / songs[0]["file"])[0])  # warm-up
    for s in songs:
        y, _ = load_audio(args.catalog / s["file"])
        t0 = time.perf_counter()
        search.embedder.embed_track(y)
        timings["embed_30s"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        search.similar(s["id"], 10)
        timings["similar"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        search.query_waveform(y[22050 * 5 : 22050 * 10], 10)
        timings["query_5s"].append(time.perf_counter() - t0)
    out = {k: {"median_s": float(np.median(v)), "p95_s": float(np.percentile(v, 95))} for k, v in timings.items()}
    out["n_index"] = len(search)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
