"""Measured limits of one machine: single-machine training + precompute vs the Spark job on local[2].

    nice -n 10 python bench/bench_scale.py --fractions 0.01 0.03 0.1 [--work var/bench_scale]

For every fraction of the full Taste Profile (1,019,318 users x 384,546 songs
x 48,373,586 listens) it generates a synthetic file of that shape
(`bench/synth.py`), then runs, as separate processes:

* **single machine**: ``python -m cf_service train --listens F --out DIR``
  then ``python -m cf_service precompute --model-dir DIR --out lists.jsonl``
  (train, then every user's precomputed list: the worst case, no active window),
  then the latency of lists scored on demand (``--latency-of``);
* **Spark**: ``python -m cf_service spark-train --listens F --out DIR --lists DIR
  --master local[2]`` (the whole vote: ALS, the item neighbourhood and EASE on
  the executors, fused with the vote's weights, + the vote's top-100 per user
  and 50 similar songs per song).

Each is measured for wall time and peak RSS of the whole process tree
(psutil, sampled every 0.25 s: the JVM and Spark's Python workers are
children of the driver). A run that passes ``--timeout-s`` or ``--max-rss-gb``
is stopped and recorded as such, with the stage it was in. Results, a fitted
power law ``t = a * f^k`` per path and its extrapolation to the full size are
written to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section

REPO = Path(__file__).resolve().parents[1]
GB = 1024**3


@dataclass
class Measured:
    """One command: wall seconds, peak tree RSS, how it ended, the last line it logged."""

    argv: list[str]
    seconds: float = 0.0
    peak_rss_gb: float = 0.0
    peak_pss_gb: float = 0.0  # RSS counts the pages forked workers share once per worker; PSS splits them
    status: str = "ok"  # ok | failed (rc) | stopped: timeout | stopped: memory
    last_line: str = ""
    stdout: str = ""
    load: float = 0.0  # mean 1-minute load average while it ran (2 cores; the machine is shared)
    extra: dict[str, Any] = field(default_factory=dict)


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total


def tree_pss(proc: psutil.Process) -> int:
    """Proportional set size of the tree: pages shared by forked workers (precompute's vote) counted once."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_full_info().pss
    return total


def measure(argv: list[str], log: Path, timeout_s: float, max_rss_gb: float) -> Measured:
    """Run ``argv`` in its own session; sample the tree's RSS; stop it on timeout or memory."""
    env = dict(os.environ) | {"OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    out = log.with_suffix(".out")
    result = Measured(argv)
    start = time.perf_counter()
    with open(log, "wb") as err, open(out, "wb") as std:
        proc = subprocess.Popen(argv, stdout=std, stderr=err, env=env, cwd=REPO, start_new_session=True)
        ps = psutil.Process(proc.pid)
        peak = peak_pss = 0
        loads: list[float] = []
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps))
            peak_pss = max(peak_pss, tree_pss(ps))
            loads.append(os.getloadavg()[0])
            elapsed = time.perf_counter() - start
            reason = ""
            if elapsed > timeout_s:
                reason = f"stopped: timeout after {elapsed:.0f} s"
            elif peak_pss > max_rss_gb * GB:
                reason = f"stopped: memory above {max_rss_gb:g} GB"
            if reason:
                result.status = reason
                for p in [*ps.children(recursive=True), ps]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        p.kill()
                proc.wait()
                break
            time.sleep(0.25)
    result.seconds = round(time.perf_counter() - start, 1)
    result.load = round(sum(loads) / len(loads), 1) if loads else 0.0
    result.peak_rss_gb = round(peak / GB, 2)
    result.peak_pss_gb = round(peak_pss / GB, 2)
    if result.status == "ok" and proc.returncode != 0:
        result.status = f"failed (exit {proc.returncode})"
    text = log.read_text(errors="replace").replace("\r", "\n")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and " WARN " not in ln and "Warning" not in ln]
    result.last_line = lines[-1][-200:] if lines else ""
    result.stdout = out.read_text(errors="replace").strip()
    return result


def module(*args: str) -> list[str]:
    return ["nice", "-n", "10", sys.executable, "-m", *args]


def run_fraction(fraction: float, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from synth import Shape, generate

    folder = work / f"f{fraction:g}"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "listens.tsv"
    shape = Shape.at(fraction)
    if not data.exists():
        t = time.perf_counter()
        info = generate(data, fraction=fraction, seed=0)
        print(f"generated {data}: {info} in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"fraction": fraction, "shape": asdict(shape), "file_mb": round(data.stat().st_size / 2**20)}
    if "single" in args.paths:
        models = folder / "single_models"
        train = measure(
            module("cf_service", "train", "--listens", str(data), "--out", str(models)),
            folder / "single_train.log", args.timeout_s, args.max_rss_gb,
        )  # fmt: skip
        out["single_train"] = asdict(train)
        print(f"f={fraction:g} single train: {train.status} {train.seconds}s {train.peak_rss_gb}GB", file=sys.stderr)
        if train.status == "ok":
            pre = measure(
                module("cf_service", "precompute", "--model-dir", str(models), "--out", str(folder / "single_lists.jsonl")),
                folder / "single_precompute.log", args.timeout_s, args.max_rss_gb,
            )  # fmt: skip
            out["single_precompute"] = asdict(pre)
            print(f"f={fraction:g} single precompute: {pre.status} {pre.seconds}s {pre.peak_rss_gb}GB", file=sys.stderr)
            lat = measure(
                ["nice", "-n", "10", sys.executable, str(Path(__file__).resolve()), "--latency-of", str(models)],
                folder / "single_latency.log", args.timeout_s, args.max_rss_gb,
            )  # fmt: skip
            if lat.status == "ok" and lat.stdout:
                out["on_demand"] = json.loads(lat.stdout.splitlines()[-1])
                print(f"f={fraction:g} on demand: {out['on_demand']}", file=sys.stderr)
    if "spark" in args.paths:
        spark = measure(
            module(
                "cf_service", "spark-train", "--listens", str(data), "--out", str(folder / "spark_models"),
                "--lists", str(folder / "spark_lists"), "--master", "local[2]",
                "--conf", f"spark.driver.memory={args.spark_driver_memory}",
                "--conf", "spark.sql.shuffle.partitions=8", "--conf", "spark.ui.enabled=false",
                "--conf", f"spark.local.dir={folder / 'spark_tmp'}",
            ),
            folder / "spark.log", args.timeout_s, args.max_rss_gb,
        )  # fmt: skip
        if spark.status == "ok" and spark.stdout:
            spark.extra = json.loads(spark.stdout.splitlines()[-1])
        out["spark"] = asdict(spark)
        print(f"f={fraction:g} spark: {spark.status} {spark.seconds}s {spark.peak_rss_gb}GB", file=sys.stderr)
    (folder / "result.json").write_text(json.dumps(out, indent=1))
    return out


def on_demand_latency(model_dir: str, n: int = 200, seed: int = 0) -> dict[str, Any]:
    """Latency of the lists cf_service scores on demand (no precomputed list), in this process.

    ``recommend``: a training listener's top-100 (``GET /recommendations/{user}``); ``fold_in``: the top-100 of a
    history the model has not seen (``POST /recommendations/fold-in``; a training listener's songs, under a new id).
    One warm-up call each, then ``n`` timed calls on random listeners.
    """
    import numpy as np

    sys.path[:0] = [str(REPO / "services" / "common"), str(REPO / "services" / "cf_service")]
    from cf_service.core.artifacts import load_current

    t = time.perf_counter()
    vote = load_current(model_dir).warm()
    load_s = time.perf_counter() - t
    inter = vote.interactions
    rng = np.random.default_rng(seed)
    users = rng.choice(inter.n_users, n + 1, replace=False)
    counts = inter.counts.tocsr()
    out: dict[str, Any] = {"load_s": round(load_s, 1), "calls": n}
    for name in ("recommend", "fold_in"):
        times = []
        for k, u in enumerate(users.tolist()):
            row = counts[u]
            history = [
                (str(inter.songs[j]), float(c)) for j, c in zip(row.indices.tolist(), row.data.tolist(), strict=True)
            ]
            t = time.perf_counter()
            if name == "recommend":
                vote.recommend(str(inter.users[u]), 100)
            else:
                vote.recommend_for_history(history, 100)
            if k:  # the first call warms caches
                times.append((time.perf_counter() - t) * 1000)
        arr = np.asarray(times)
        out[name] = {
            "p50_ms": round(float(np.percentile(arr, 50)), 2),
            "p99_ms": round(float(np.percentile(arr, 99)), 2),
        }
    return out


def power_law(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``log y = log a + k log f``; None with fewer than two points."""
    pts = [(math.log(f), math.log(y)) for f, y in points if y > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    k = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    return math.exp(my - k * mx), k


def _fmt_s(s: float) -> str:
    if s >= 7200:
        return f"{s / 3600:.1f} h"
    if s >= 120:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s"


def path_rows(results: list[dict[str, Any]]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Per path: (fraction, {seconds, peak_rss_gb, status, detail}) with the single path's two steps summed."""
    rows: dict[str, list[tuple[float, dict[str, Any]]]] = {"single": [], "spark": []}
    for r in results:
        f = r["fraction"]
        if "single_train" in r:
            tr, pre = r["single_train"], r.get("single_precompute")
            ok = tr["status"] == "ok" and pre is not None and pre["status"] == "ok"
            rows["single"].append((f, {
                "seconds": tr["seconds"] + (pre["seconds"] if pre else 0.0),
                "peak_rss_gb": max(tr["peak_rss_gb"], pre["peak_rss_gb"] if pre else 0.0),
                "status": "ok" if ok else (tr["status"] if tr["status"] != "ok" else f"precompute {pre['status'] if pre else '?'}"),
                "load": max(tr.get("load", 0.0), pre.get("load", 0.0) if pre else 0.0),
                "detail": f"train {tr['seconds']:.0f} s / {tr['peak_rss_gb']:.1f} GB"
                + (f", precompute {pre['seconds']:.0f} s / {pre['peak_rss_gb']:.1f} GB" if pre else "")
                + (f" (PSS {pre['peak_pss_gb']:.1f} GB)" if pre and pre.get("peak_pss_gb") else "")
                + ("" if ok else f"; last log line: `{(pre or tr)['last_line'][:120]}`"),
            }))  # fmt: skip
        if "spark" in r:
            sp = r["spark"]
            secs = sp.get("extra", {}).get("seconds", {})
            detail = ", ".join(f"{k} {v:.0f} s" for k, v in secs.items() if k != "total") if secs else ""
            if sp["status"] != "ok":
                detail += f"; last log line: `{sp['last_line'][:120]}`"
            rows["spark"].append(
                (
                    f,
                    {
                        "seconds": sp["seconds"],
                        "peak_rss_gb": sp["peak_rss_gb"],
                        "load": sp.get("load", 0.0),
                        "status": sp["status"],
                        "detail": detail,
                    },
                )
            )
    return rows


def step_points(results: list[dict[str, Any]]) -> dict[str, list[tuple[float, float, float]]]:
    """(fraction, seconds, peak GB) of every finished step: each grows at its own rate, so each gets its own fit."""
    out: dict[str, list[tuple[float, float, float]]] = {
        "single machine: `train`": [],
        "single machine: `precompute`": [],
        "Spark local[2]: whole job": [],
        "Spark local[2]: ALS fit": [],
        "Spark local[2]: item neighbourhood": [],
        "Spark local[2]: EASE": [],
        "Spark local[2]: top-N lists": [],
    }
    for r in results:
        f = r["fraction"]
        for key, label in (
            ("single_train", "single machine: `train`"),
            ("single_precompute", "single machine: `precompute`"),
        ):
            if r.get(key, {}).get("status") == "ok":
                out[label].append((f, r[key]["seconds"], r[key]["peak_rss_gb"]))
        sp = r.get("spark", {})
        if sp.get("status") == "ok":
            out["Spark local[2]: whole job"].append((f, sp["seconds"], sp["peak_rss_gb"]))
            secs = sp.get("extra", {}).get("seconds", {})
            # Stage times come from the job's own clock; peak memory is the whole job's.
            for key, label in (
                ("als_fit", "Spark local[2]: ALS fit"),  # the --als-only job
                ("als", "Spark local[2]: ALS fit"),  # the vote's job
                ("itemknn", "Spark local[2]: item neighbourhood"),
                ("ease", "Spark local[2]: EASE"),
                ("lists", "Spark local[2]: top-N lists"),
            ):
                if key in secs:
                    out[label].append((f, secs[key], sp["peak_rss_gb"]))
    return out


def report(results: list[dict[str, Any]], command: str, notes: str) -> str:
    rows = path_rows(results)
    names = {"single": "single machine: `train` + `precompute`", "spark": "Spark `spark-train` on local[2]"}
    lines = [
        "Synthetic listens with the Taste Profile's shape (`bench/gen_synthetic.py`, seed 0: power-law user activity"
        " and song popularity, zeta play counts). Wall time and peak RSS of the whole process tree"
        " (psutil, every 0.25 s; the JVM and Spark's Python workers included). `load` is the mean 1-minute load"
        " average while the command ran: the 2-core machine was shared with other jobs, so times are inflated"
        " by roughly load/2 where it exceeds 2.",
        "",
        "| fraction | users | songs | listens | path | status | wall | peak RSS | load | detail |",
        "|---:|---:|---:|---:|---|---|---:|---:|---:|---|",
    ]
    shapes = {r["fraction"]: r["shape"] for r in results}
    for path in ("single", "spark"):
        for f, row in rows[path]:
            s = shapes[f]
            lines.append(
                f"| {f:g} | {s['users']:,} | {s['songs']:,} | {s['listens']:,} | {names[path]} | {row['status']} |"
                f" {_fmt_s(row['seconds'])} | {row['peak_rss_gb']:.1f} GB | {row['load']:.1f} | {row['detail']} |"
            )
    lines += ["", "Extrapolation to the full size (f = 1) with a power law `y = a * f^k` through the two largest"
              " fractions that finished:", "", "| path | time exponent k | full-size time | memory exponent | full-size peak RSS |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for label, all_points in step_points(results).items():
        # The two largest sizes: start-up costs weigh less there, so the slope is closest to the asymptotic one.
        points = sorted(all_points)[-2:]
        t = power_law([(f, secs) for f, secs, _ in points])
        m = power_law([(f, gb) for f, _, gb in points])
        if t is None or m is None:
            lines.append(f"| {label} | - | fewer than two finished runs | - | - |")
            continue
        if label.startswith("Spark"):
            # The JVM grows to the heap it is given before collecting: its RSS tracks the setting, not the data.
            lines.append(f"| {label} | {t[1]:.2f} | {_fmt_s(t[0])} | - | set by `spark.driver.memory` |")
        else:
            lines.append(f"| {label} | {t[1]:.2f} | {_fmt_s(t[0])} | {m[1]:.2f} | {m[0]:.1f} GB |")
    lines += [
        "",
        "The same power law through every fraction measured (the exponent the precompute must keep at or under 1.2):",
        "",
        "| path | fractions | time exponent k | full-size time | memory exponent | full-size peak RSS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, all_points in step_points(results).items():
        t = power_law([(f, secs) for f, secs, _ in all_points])
        m = power_law([(f, gb) for f, _, gb in all_points])
        if t is None or m is None:
            continue
        fracs = ", ".join(f"{f:g}" for f, _, _ in sorted(all_points))
        memory = (
            ("-", "set by `spark.driver.memory`") if label.startswith("Spark") else (f"{m[1]:.2f}", f"{m[0]:.1f} GB")
        )
        lines.append(f"| {label} | {fracs} | {t[1]:.2f} | {_fmt_s(t[0])} | {memory[0]} | {memory[1]} |")
    latency = [(r["fraction"], r["on_demand"]) for r in results if "on_demand" in r]
    if latency:
        lines += [
            "",
            "Lists scored on demand (a listener without a precomputed list), in one process with the model loaded"
            " (`--latency-of`: 200 random listeners after one warm-up call; top-100 with reasons):",
            "",
            "| fraction | load | `recommend` (training listener) p50 / p99 | fold-in (unseen history) p50 / p99 |",
            "|---:|---:|---:|---:|",
        ]
        for f, lat in latency:
            lines.append(
                f"| {f:g} | {lat['load_s']:.0f} s | {lat['recommend']['p50_ms']:.1f} / {lat['recommend']['p99_ms']:.1f} ms"
                f" | {lat['fold_in']['p50_ms']:.1f} / {lat['fold_in']['p99_ms']:.1f} ms |"
            )
    if plot(results, PLOT):
        lines += ["", f"![time and peak memory against listens, log-log]({PLOT.name})"]
    lines += ["", notes.strip()]
    return "\n".join(lines)


PLOT = Path(__file__).resolve().parent / "scale.png"


def plot(results: list[dict[str, Any]], path: Path) -> bool:
    """Wall time and peak RSS of every step against listens, log-log (False when nothing finished)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    listens = {r["fraction"]: r["shape"]["listens"] for r in results}
    steps = {k: v for k, v in step_points(results).items() if v}
    if not steps:
        return False
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, points in steps.items():
        points = sorted(points)
        x = [listens[f] for f, _, _ in points]
        style = "o-" if label.startswith("single") else "s--"
        name = label.replace("`", "")
        ax_t.loglog(x, [secs for _, secs, _ in points], style, label=name)
        if not label.startswith("Spark") or label.endswith("whole job"):
            ax_m.loglog(x, [gb for _, _, gb in points], style, label=name)
    pss = sorted(
        (listens[r["fraction"]], r["single_precompute"]["peak_pss_gb"])
        for r in results
        if r.get("single_precompute", {}).get("peak_pss_gb")
    )
    if pss:  # RSS counts the pages the forked workers share once per worker; PSS once in all
        ax_m.loglog([x for x, _ in pss], [y for _, y in pss], "x", ms=9, color="C1", label="precompute (PSS)")
    ax_m.legend(fontsize=7)
    full = 48_373_586
    ax_t.axhline(3600, color="grey", ls=":", lw=1)
    ax_t.text(listens[min(listens)], 3600 * 1.1, "1 hour", color="grey", fontsize=8)
    ax_m.axhline(8, color="grey", ls=":", lw=1)
    ax_m.text(listens[min(listens)], 8 * 1.06, "8 GB", color="grey", fontsize=8)
    for ax, title, unit in ((ax_t, "wall time", "seconds"), (ax_m, "peak RSS (process tree)", "GB")):
        ax.axvline(full, color="grey", ls="--", lw=1)
        ax.set_xlabel("listens (full Taste Profile: dashed line)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--paths", nargs="+", default=["single", "spark"], choices=["single", "spark"])
    parser.add_argument("--work", default=str(REPO / "var" / "bench_scale"))
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="per command")
    parser.add_argument("--max-rss-gb", type=float, default=16.0, help="per command (the machine is shared)")
    parser.add_argument("--spark-driver-memory", default="6g")
    parser.add_argument("--notes", default="", help="extra text for RESULTS.md (e.g. machine load)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    parser.add_argument("--report-only", action="store_true", help="rebuild the section from saved result.json files")
    parser.add_argument("--latency-of", help=argparse.SUPPRESS)  # internal: on-demand latency of one model folder
    args = parser.parse_args()
    if args.latency_of:
        print(json.dumps(on_demand_latency(args.latency_of)))
        return
    work = Path(args.work)
    results: list[dict[str, Any]] = []
    for f in args.fractions:
        saved = work / f"f{f:g}" / "result.json"
        if args.report_only:
            results.append(json.loads(saved.read_text()))
        else:
            results.append(run_fraction(f, work, args))
    command = "nice -n 10 python bench/bench_scale.py --fractions " + " ".join(f"{f:g}" for f in args.fractions)
    body = report(results, command, args.notes)
    if args.no_write:
        print(body)
    else:
        write_section("Scale: one machine vs Spark on local[2] (synthetic Taste Profile)", command, body)
        print(body)


if __name__ == "__main__":
    main()
