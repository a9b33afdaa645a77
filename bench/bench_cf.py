"""Timings of cf_service's core: evaluate at the size budget, train, precompute, fold-in latency.

    OPENBLAS_NUM_THREADS=1 python bench/bench_cf.py [--skip-big] [--out timings.json]

* ``big``: a synthetic TRAIN of about 110,000 listens by 3,000 users on 23,000
  songs (Zipf popularity, taste clusters) plus a TEST of 20 % of 600 users'
  songs, then the full ``evaluate`` (tuning included); budget: 10 minutes.
* ``train``: ``train`` on ``data/msd/listens_10000_head.tsv``; budget: 60 s.
* ``precompute``: top-100 per user + 50 neighbours per song; budget: 10 s.
* ``fold_in``: ``recommend_for_history`` latency over 200 real histories
  (p50 / p99); budget: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def synthetic_split(out: Path, n_users: int = 3000, n_songs: int = 23000, target: int = 137_500, seed: int = 0) -> None:
    """Write TRAIN.tsv / TEST.tsv shaped like the evaluate budget case."""
    rng = np.random.default_rng(seed)
    n_clusters = 40
    song_cluster = rng.integers(0, n_clusters, n_songs)
    pop = 1.0 / np.arange(1, n_songs + 1) ** 0.8
    rng.shuffle(pop)
    lengths = np.maximum(5, rng.lognormal(3.0, 0.9, n_users)).astype(int)
    lengths = np.maximum(5, (lengths * target / lengths.sum()).astype(int))
    rows = []
    for u in range(n_users):
        fav = rng.integers(0, n_clusters, 2)
        w = pop * np.where(np.isin(song_cluster, fav), 8.0, 1.0)
        songs = rng.choice(n_songs, size=min(lengths[u], n_songs), replace=False, p=w / w.sum())
        counts = 1 + rng.geometric(0.35, len(songs)) - 1
        rows.append(
            pd.DataFrame({"user_id": f"u{u:05d}", "song_id": [f"S{s:06d}" for s in songs], "play_count": counts})
        )
    frame = pd.concat(rows, ignore_index=True)
    test_users = rng.choice(n_users, 600, replace=False)
    held = np.zeros(len(frame), bool)
    for u in test_users:
        idx = np.flatnonzero(frame["user_id"].to_numpy() == f"u{u:05d}")
        held[rng.choice(idx, max(1, int(0.2 * len(idx))), replace=False)] = True
    frame[~held].to_csv(out / "TRAIN.tsv", sep="\t", index=False)
    frame[held].to_csv(out / "TEST.tsv", sep="\t", index=False)


def bench_big(work: Path) -> dict[str, object]:
    from cf_service.core.evaluate import evaluate

    synthetic_split(work)
    train = pd.read_csv(work / "TRAIN.tsv", sep="\t")
    start = time.perf_counter()
    result = evaluate(work / "TRAIN.tsv", work / "TEST.tsv", log=lambda m: print(m, file=sys.stderr, flush=True))
    return {
        "train_listens": len(train),
        "train_users": int(train["user_id"].nunique()),
        "train_songs": int(train["song_id"].nunique()),
        "evaluate_s": round(time.perf_counter() - start, 1),
        "tuning_s": result.get("tuning", {}).get("seconds"),
        "models": {
            k: {m: v[m] for m in ("ndcg@10", "map@500", "fit_s", "score_s")} for k, v in result["models"].items()
        },
    }


def bench_serving(work: Path) -> dict[str, object]:
    from cf_service.core.artifacts import load_current
    from cf_service.core.precompute import precompute
    from cf_service.core.training import train

    out: dict[str, object] = {}
    start = time.perf_counter()
    res = train(REPO / "data" / "msd" / "listens_10000_head.tsv", work / "models", progress=False)
    out["train_s"] = round(time.perf_counter() - start, 2)
    out["train_fit_s"] = round(res.seconds, 2)

    start = time.perf_counter()
    vote = load_current(work / "models")
    out["load_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    counts = precompute(vote, work / "pre.jsonl")
    out["precompute_s"] = round(time.perf_counter() - start, 2)
    out["precompute_lines"] = counts

    inter = vote.interactions
    rng = np.random.default_rng(0)
    users = rng.choice(inter.n_users, 200, replace=False)
    histories = []
    for u in users.tolist():
        row = inter.counts[u]
        histories.append(list(zip(inter.songs[row.indices].tolist(), row.data.astype(int).tolist(), strict=True)))
    vote.recommend_for_history(histories[0], 10)  # warm caches
    lat = []
    for h in histories:
        t = time.perf_counter()
        vote.recommend_for_history(h, 10)
        lat.append((time.perf_counter() - t) * 1000)
    known = []
    for u in users[:100].tolist():
        t = time.perf_counter()
        vote.recommend(str(inter.users[u]), 10)
        known.append((time.perf_counter() - t) * 1000)
    out["fold_in_ms"] = {
        "p50": round(float(np.percentile(lat, 50)), 2),
        "p99": round(float(np.percentile(lat, 99)), 2),
        "max": round(float(np.max(lat)), 2),
        "history_len_median": int(np.median([len(h) for h in histories])),
    }
    out["recommend_known_ms"] = {
        "p50": round(float(np.percentile(known, 50)), 2),
        "p99": round(float(np.percentile(known, 99)), 2),
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-big", action="store_true", help="skip the 10-minute-budget evaluate")
    parser.add_argument("--out", help="write the timings JSON here too")
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench_cf_") as tmp:
        work = Path(tmp)
        results["serving"] = bench_serving(work)
        if not args.skip_big:
            big = work / "big"
            big.mkdir()
            results["big_evaluate"] = bench_big(big)
        results["dev_split"] = bench_dev_split(work)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    write_results(results, args.skip_big)
    return 0


def bench_dev_split(work: Path) -> dict[str, object]:
    """The documented command on the shipped development split, timed as a whole (tuning included)."""
    import subprocess

    split = REPO / "data" / "msd" / "split_10000_head"
    out = work / "dev_eval.json"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cf_service",
            "evaluate",
            "--train",
            str(split / "TRAIN.tsv"),
            "--test",
            str(split / "TEST.tsv"),
            "--json",
            str(out),
            "--quiet",
        ],
        check=True,
    )
    result = json.loads(out.read_text())
    return {
        "evaluate_s": round(time.perf_counter() - start, 1),
        "n_users": result["n_users"],
        "models": result["models"],
    }


def write_results(results: dict[str, object], skip_big: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results import write_section

    dev: dict = results["dev_split"]  # type: ignore[assignment]
    serving: dict = results["serving"]  # type: ignore[assignment]
    rows = "\n".join(
        f"| {name} | {m['ndcg@10']:.4f} | {m['recall@20']:.4f} | {m['recall@50']:.4f} | {m['map@500']:.4f} | "
        f"{m['fit_s']:.1f} s | {m['score_s']:.2f} s |"
        for name, m in dev["models"].items()
    )
    body = f"""
### Ranking quality on `data/msd/split_10000_head` ({dev["n_users"]} test users)

`python -m cf_service evaluate --train data/msd/split_10000_head/TRAIN.tsv --test data/msd/split_10000_head/TEST.tsv --json OUT.json`
took {dev["evaluate_s"]} s in all (hyper-parameters and vote weights tuned on a validation carve of TRAIN).
`make bench-check` re-runs it and fails when a figure of this table no longer reproduces.

| model | NDCG@10 | Recall@20 | Recall@50 | MAP@500 | fit | score |
|---|---:|---:|---:|---:|---:|---:|
{rows}

### Serving (`data/msd/listens_10000_head.tsv`)

| what | measured | budget |
|---|---:|---:|
| `train` (whole command path, default tuned parameters) | {serving["train_s"]} s | 60 s |
| precompute top-100 per user + 50 neighbours per song | {serving["precompute_s"]} s | 10 s |
| fold-in `recommend_for_history`, 200 real histories | p50 {serving["fold_in_ms"]["p50"]} ms, p99 {serving["fold_in_ms"]["p99"]} ms | p99 < 50 ms |
| known-user `recommend` | p50 {serving["recommend_known_ms"]["p50"]} ms, p99 {serving["recommend_known_ms"]["p99"]} ms | |
"""
    if not skip_big:
        big: dict = results["big_evaluate"]  # type: ignore[assignment]
        body += f"""
### Evaluate at the size budget (synthetic Taste-Profile-shaped data)

{big["train_listens"]:,} TRAIN listens, {big["train_users"]:,} users, {big["train_songs"]:,} songs: `evaluate` took
{big["evaluate_s"]} s (budget 600 s), of which tuning {big["tuning_s"]} s. Quality numbers on synthetic data mean nothing.
"""
    write_section("cf_service: ranking quality and timings", "OPENBLAS_NUM_THREADS=1 python bench/bench_cf.py", body)


if __name__ == "__main__":
    raise SystemExit(main())
