"""Fault injection under load (long version of tests/reliability/test_faults.py).

Builds and starts the real stack on loopback (the integration tests' ``Stack``: SQLite, redis-server,
cf_service, audio_service with the tiny audio model, gateway), runs mixed traffic against the gateway
(recommendations for logged-in demo users, search, plays, similar songs, charts, song pages) and, round
after round, kills with SIGKILL and restarts cf_service, audio_service, Redis and the gateway itself.

Checked and written to bench/RESULTS.md: requests sent, 5xx answers (must be 0), requests that got no
answer (only allowed while the gateway itself is down), answers whose ``degraded`` names a component
that was up, how soon answers said a component was down, recovery time to complete answers after each
component's return (must be under 10 s), and the plays acknowledged versus found in the database
(writes lost: must be 0).

    python bench/bench_faults.py                      # 3 rounds, each component down 10 s (about 6 minutes)
    python bench/bench_faults.py --rounds 1 --down-seconds 3 --no-gateway-crash   # a quick check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import publish
from traffic import (
    FLAG,
    REPO,
    FaultReport,
    MixedTraffic,
    Prober,
    crash_gateway,
    discover_catalog,
    inject,
    login_demo_users,
    lost_writes,
    play_counts,
    running_stack,
    summarize,
    unexplained_flags,
    wait_until,
)

RECOVERY_LIMIT_S = 10.0
LOAD_USERS = ("alice", "bob", "carol")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="kill/restart rounds over every component")
    parser.add_argument("--down-seconds", type=float, default=10.0, help="how long each component stays down")
    parser.add_argument("--concurrency", type=int, default=6, help="concurrent clients of the load")
    parser.add_argument("--think", type=float, default=0.01, help="pause of each client between requests (s)")
    parser.add_argument("--no-gateway-crash", action="store_true", help="do not SIGKILL the gateway itself")
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args()

    components = ["cf_service", "audio_service", "redis"] + ([] if args.no_gateway_crash else ["gateway"])
    reports: list[FaultReport] = []
    outages: dict[str, list[tuple[float, float]]] = {}
    gateway_down: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp_s, running_stack(Path(tmp_s)) as stack:
        base = stack.url("gateway", "")
        tokens = login_demo_users(stack)
        users = {name: tokens[name] for name in LOAD_USERS}
        catalog = discover_catalog(base, users["alice"])
        clip = (REPO / "data" / "audio" / "fixtures" / "sorohanro_-_solo-trumpet-06.ogg").read_bytes()
        prober = Prober(base, tokens["dave"], catalog.songs, clip)
        for flag in FLAG.values():
            assert wait_until(lambda f=flag: prober.full(f), timeout=60) is not None, f"{flag} incomplete at start"
        before = play_counts(stack.env["DATABASE_URL"], LOAD_USERS)
        traffic = MixedTraffic(base, users, catalog, concurrency=args.concurrency, think_s=args.think).start()
        started = time.monotonic()
        try:
            time.sleep(5)
            for round_no in range(1, args.rounds + 1):
                for name in components:
                    if name == "gateway":
                        report, window = crash_gateway(stack, prober)
                        gateway_down.append(window)
                        for flag in FLAG.values():  # while it restarts nothing answers, flags included
                            outages.setdefault(flag, []).append(window)
                    else:
                        report, window = inject(stack, name, prober, base, args.down_seconds, RECOVERY_LIMIT_S)
                        outages.setdefault(FLAG[name], []).append(window)
                    reports.append(report)
                    print(f"round {round_no}: {report}", flush=True)
                    time.sleep(3)
        finally:
            results = traffic.stop()
            prober.close()
        seconds = time.monotonic() - started
        writes = lost_writes(before, play_counts(stack.env["DATABASE_URL"], LOAD_USERS), traffic.ledger)

    summary = summarize(results, seconds)
    unexplained = unexplained_flags(results, outages)
    stray = [r for r in results if r.status == 0 and not any(s <= r.end and r.start <= e for s, e in gateway_down)]
    late = [r for r in reports if r.recovery_s is None or r.recovery_s > RECOVERY_LIMIT_S]
    unflagged = [r for r in reports if r.component != "gateway" and r.flagged_after_s is None]
    ok = not (summary["5xx"] or unexplained or stray or late or unflagged or writes["lost"] or writes["extra"])

    def stats(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s median, {max(values):.2f} s max" if values else "n/a"

    rows = []
    for name in components:
        mine = [r for r in reports if r.component == name]
        flagged = [r.flagged_after_s for r in mine if r.flagged_after_s is not None]
        rows.append(
            f"| {name} | {len(mine)} | {stats(flagged) if name != 'gateway' else '(down: no answers)'} "
            f"| {stats([r.restart_s for r in mine])} | {stats([r.recovery_s for r in mine if r.recovery_s is not None])} "
            f"| {f'{sum(1 for r in mine if r.health_down)}/{len(mine)}' if name != 'gateway' else 'n/a'} |"
        )
    kinds = " ".join(f"{k} {v['requests']:,}," for k, v in summary["by_kind"].items()).rstrip(",")
    body = f"""
Real stack on loopback (SQLite, redis-server, cf_service, audio_service with the tiny test model, gateway), mixed
traffic from {args.concurrency} closed-loop clients ({kinds}), {args.rounds} round(s) of SIGKILL + restart of
{", ".join(components)}; each service down {args.down_seconds:.0f} s.

| | |
|---|---:|
| requests sent | {summary["requests"]:,} in {seconds:.0f} s ({summary["rps"]:.0f}/s) |
| 5xx answers | **{summary["5xx"]}** |
| no answer (only while the gateway itself was down) | {summary["no_answer"]} ({len(stray)} outside those windows) |
| 4xx answers | {summary["4xx"]} |
| answers marked degraded | {summary["degraded"]:,} |
| `degraded` naming a component that was up | {len(unexplained)} |
| faults injected | {len(reports)} |
| plays acknowledged | {writes["acked"]:,} ({writes["unknown"]} sent but unanswered at a gateway kill) |
| **writes lost** | **{sum(writes["lost"].values())}** (invented: {sum(writes["extra"].values())}) |
| latency p50 / p99 (all answers) | {summary["p50_ms"]:.0f} ms / {summary["p99_ms"]:.0f} ms |

| component | faults | an answer said so after | restart took | complete answers again after its return | /api/health showed it down |
|---|---:|---|---|---|---|
{chr(10).join(rows)}

Verdict: {"PASS" if ok else "FAIL"} (zero 5xx, degraded flags only for components that were down, recovery within
{RECOVERY_LIMIT_S:.0f} s of each return, no acknowledged play missing from the database).
"""
    publish("Fault injection under load", body, write=not args.no_write)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
