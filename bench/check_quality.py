"""Re-run the recorded ranking-quality figures and fail where they no longer reproduce (`make bench-check`).

    OPENBLAS_NUM_THREADS=1 python bench/check_quality.py [--tolerance 0.0005] [--json OUT]

Runs ``python -m cf_service evaluate`` on ``data/msd/split_10000_head`` (tuning included, the same seeds)
and compares every model's NDCG@10, Recall@20, Recall@50 and MAP@500 with the table of the section
"cf_service: ranking quality and timings" in ``bench/RESULTS.md``. Exit status 1 when any figure differs
by more than the tolerance (the table's rounding: 4 decimals) or a recorded model is missing; 0 otherwise.
About two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "cf_service: ranking quality and timings"
METRICS = ("ndcg@10", "recall@20", "recall@50", "map@500")
SPLIT = REPO / "data" / "msd" / "split_10000_head"


def recorded(text: str) -> dict[str, dict[str, float]]:
    """model -> metric -> value, from the quality table of the cf section of RESULTS.md."""
    match = re.search(rf"^## {re.escape(SECTION)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        raise SystemExit(f"no section '## {SECTION}' in {RESULTS}")
    out: dict[str, dict[str, float]] = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"[a-z][a-z-]*", cells[0]) and re.fullmatch(r"\d\.\d{4}", cells[1]):
            out[cells[0]] = {m: float(v) for m, v in zip(METRICS, cells[1:5], strict=True)}
    if "vote" not in out:
        raise SystemExit(f"no quality table with a 'vote' row in the section '{SECTION}'")
    return out


def compare(
    expected: dict[str, dict[str, float]], measured: dict[str, dict[str, float]], tolerance: float
) -> list[str]:
    """Human-readable differences beyond ``tolerance`` (empty: everything reproduces)."""
    problems = []
    for model, figures in expected.items():
        got = measured.get(model)
        if got is None:
            problems.append(f"{model}: recorded but not measured")
            continue
        for metric, value in figures.items():
            if abs(float(got[metric]) - value) > tolerance:
                problems.append(f"{model} {metric}: recorded {value:.4f}, measured {float(got[metric]):.4f}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=0.0005)
    parser.add_argument("--json", type=Path, default=None, help="also write the evaluate JSON here")
    args = parser.parse_args(argv)

    expected = recorded(RESULTS.read_text())
    from cf_service.core.evaluate import evaluate

    start = time.perf_counter()
    result = evaluate(SPLIT / "TRAIN.tsv", SPLIT / "TEST.tsv", seed=0)
    seconds = time.perf_counter() - start
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    measured = result["models"]
    print(f"evaluate on {SPLIT.relative_to(REPO)}: {seconds:.0f} s")
    print(f"{'model':<16}" + "".join(f"{m:>22}" for m in METRICS))
    for model, figures in expected.items():
        got = measured.get(model, {})
        row = "".join(f"{figures[m]:>10.4f} -> {float(got.get(m, float('nan'))):<9.4f}" for m in METRICS)
        print(f"{model:<16}{row}")
    problems = compare(expected, measured, args.tolerance)
    if problems:
        print(f"\nFAIL: {len(problems)} recorded figure(s) of bench/RESULTS.md do not reproduce:")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"\nOK: all {sum(len(f) for f in expected.values())} recorded figures reproduce within {args.tolerance}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
