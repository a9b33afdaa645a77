"""Soak: mixed traffic against the real stack for N minutes; throughput, latency, errors and memory.

Builds and starts the real stack on loopback (the integration tests' ``Stack``: SQLite, redis-server,
cf_service, audio_service with the tiny audio model, gateway) and runs the mixed traffic of
bench/traffic.py (recommendations for logged-in demo users, search, plays, similar songs, charts, song
pages) from closed-loop clients. The resident memory of every process (gateway, cf_service,
audio_service, redis) is taken after a warm-up and at the end: growth must stay under 10 %. Every play
the gateway acknowledged must be in the database at the end. Results go to bench/RESULTS.md.

    python bench/bench_soak.py                            # 10 minutes, after a 5-minute warm-up and the build
    python bench/bench_soak.py --minutes 0.5 --warmup 10  # a quick check of the script
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import publish
from traffic import (
    MixedTraffic,
    discover_catalog,
    login_demo_users,
    lost_writes,
    play_counts,
    process_rss,
    running_stack,
    summarize,
)

GROWTH_LIMIT = 0.10
USERS = ("alice", "bob", "carol", "dave")


def redis_keys(stack: object) -> tuple[dict[str, int], int]:
    """Keys by family (``gw:recs``, ``cf:<version>``...) and Redis's own count of allocated bytes."""
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"])  # type: ignore[attr-defined]
    families: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        parts = key.decode(errors="replace").split(":")
        family = ":".join(parts[:2]) if parts[0] in ("gw", "cf") and len(parts) > 2 else parts[0]
        family = "cf:<version>" if family.startswith("cf:") and family != "cf:version" else family
        families[family] = families.get(family, 0) + 1
    used = int(client.info("memory")["used_memory"])
    client.close()
    return families, used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="measured duration (after the warm-up)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=300.0,
        help="seconds of traffic before the first memory sample (default: the cache TTL, after which Redis holds "
        "a steady state: entries expire as fast as new ones come)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--think", type=float, default=0.0, help="pause of each client between requests (s)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args()

    samples: list[tuple[float, dict[str, int]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp_s, running_stack(Path(tmp_s)) as stack:
        base = stack.url("gateway", "")
        tokens = login_demo_users(stack, USERS)
        catalog = discover_catalog(base, tokens["alice"])
        before = play_counts(stack.env["DATABASE_URL"], USERS)
        warmup = MixedTraffic(base, tokens, catalog, concurrency=args.concurrency, think_s=args.think, seed=1)
        warmup.run_for(args.warmup)  # caches, pools and the allocator settle before memory is measured
        start_rss = process_rss(stack)
        start_keys, start_used = redis_keys(stack)
        traffic = MixedTraffic(base, tokens, catalog, concurrency=args.concurrency, think_s=args.think, seed=2)
        stop = threading.Event()

        def sample() -> None:  # memory every 10 s, for the peak
            while not stop.wait(10):
                samples.append((time.monotonic(), process_rss(stack)))

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.monotonic()
        traffic.start()
        sampler.start()
        time.sleep(args.minutes * 60)
        results = traffic.stop()
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        end_rss = process_rss(stack)
        end_keys, end_used = redis_keys(stack)
        ledger = warmup.ledger
        for key, n in traffic.ledger.acked.items():
            ledger.acked[key] += n
        for key, n in traffic.ledger.unknown.items():
            ledger.unknown[key] += n
        writes = lost_writes(before, play_counts(stack.env["DATABASE_URL"], USERS), ledger)

    summary = summarize(results, seconds)
    errors = summary["5xx"] + summary["no_answer"] + summary["4xx"]
    growth = {name: end_rss[name] / start_rss[name] - 1 for name in start_rss if name in end_rss}
    peak = {
        name: max([start_rss[name], end_rss.get(name, 0), *(s.get(name, 0) for _, s in samples)]) for name in start_rss
    }
    ok = errors == 0 and all(g < GROWTH_LIMIT for g in growth.values()) and not writes["lost"] and len(growth) == 4

    mb = 2**20
    memory_rows = "\n".join(
        f"| {name} | {start_rss[name] / mb:.0f} MB | {end_rss.get(name, 0) / mb:.0f} MB | {peak[name] / mb:.0f} MB "
        f"| {growth.get(name, float('nan')):+.1%} |"
        for name in start_rss
    )
    key_rows = "\n".join(
        f"| `{family}` | {start_keys.get(family, 0):,} | {end_keys.get(family, 0):,} |"
        for family in sorted(set(start_keys) | set(end_keys))
    )
    by = summary["degraded_by"]
    degraded_detail = " (" + ", ".join(f"{k}: {v}" for k, v in by.items()) + ")" if by else ""
    kind_rows = "\n".join(
        f"| {kind} | {v['requests']:,} | {v['p50_ms']:.0f} ms | {v['p99_ms']:.0f} ms | {v['5xx']} |"
        for kind, v in summary["by_kind"].items()
    )
    body = f"""
Real stack on loopback (SQLite, redis-server, cf_service, audio_service with the tiny test model, gateway; one
uvicorn process each), {args.concurrency} closed-loop clients as 4 demo users, {args.warmup:.0f} s warm-up, then
{args.minutes:g} minutes measured. The load generator runs on the same machine as the servers.

| | |
|---|---:|
| requests | {summary["requests"]:,} in {seconds:.0f} s |
| throughput | {summary["rps"]:.1f} requests/s |
| latency p50 / p99 | {summary["p50_ms"]:.0f} ms / {summary["p99_ms"]:.0f} ms |
| errors (5xx / no answer / 4xx) | **{errors}** ({summary["5xx"]} / {summary["no_answer"]} / {summary["4xx"]}) |
| answers marked degraded | {summary["degraded"]}{degraded_detail} |
| plays acknowledged / lost | {writes["acked"]:,} / **{sum(writes["lost"].values())}** |

| request | count | p50 | p99 | 5xx |
|---|---:|---:|---:|---:|
{kind_rows}

Resident memory (RSS) after the warm-up and at the end (limit: growth under {GROWTH_LIMIT:.0%}):

| process | start | end | peak | growth |
|---|---:|---:|---:|---:|
{memory_rows}

Redis's own count of allocated memory (`used_memory`): {start_used / mb:.1f} MB after the warm-up,
{end_used / mb:.1f} MB at the end ({end_used / start_used - 1:+.1%}). Keys by family:

| keys | after warm-up | end |
|---|---:|---:|
{key_rows}
| total | {sum(start_keys.values()):,} | {sum(end_keys.values()):,} |

Verdict: {"PASS" if ok else "FAIL"}.
"""
    publish("Soak: mixed traffic, memory of every process", body, write=not args.no_write)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
