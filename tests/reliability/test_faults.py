"""Fault injection under load (short version of bench/bench_faults.py).

While mixed traffic runs against the real gateway, cf_service, audio_service and Redis are each killed
(SIGKILL) and started again on their port. The gateway must answer every request with no 5xx, name the
missing component in ``degraded`` (and only a component that was really down), and give complete answers
again within 10 s of the component's return. Every play it acknowledged must be in the database.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from traffic import (
    FLAG,
    MixedTraffic,
    Prober,
    discover_catalog,
    inject,
    kill,
    lost_writes,
    play_counts,
    restart,
    summarize,
    unexplained_flags,
    wait_until,
)

from .conftest import CLIP

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RECOVERY_LIMIT_S = 10.0
LOAD_USERS = ("alice", "bob", "carol")  # dave is the probe user: his answers are never cached by the load


def test_kill_and_restart_each_component_under_load(stack: Any, demo_tokens: dict[str, str]) -> None:
    base = stack.url("gateway", "")
    users = {name: demo_tokens[name] for name in LOAD_USERS}
    catalog = discover_catalog(base, users["alice"])
    prober = Prober(base, demo_tokens["dave"], catalog.songs, CLIP.read_bytes())
    for flag in FLAG.values():  # everything is up: complete answers first
        assert wait_until(lambda f=flag: prober.full(f), timeout=30) is not None, f"{flag} not complete before faults"
    before = play_counts(stack.env["DATABASE_URL"], LOAD_USERS)

    traffic = MixedTraffic(base, users, catalog, concurrency=3, think_s=0.02, seed=8).start()
    reports = []
    outages: dict[str, list[tuple[float, float]]] = {}
    try:
        time.sleep(2)
        for name in ("cf_service", "audio_service", "redis"):
            report, window = inject(stack, name, prober, base, down_s=3, recovery_limit_s=RECOVERY_LIMIT_S)
            reports.append(report)
            outages.setdefault(FLAG[name], []).append(window)
        time.sleep(2)
    finally:
        results = traffic.stop()
        prober.close()
        for name in FLAG:  # leave the stack whole for the tests that follow
            if not stack.procs[name].alive():
                restart(stack, name)

    summary = summarize(results)
    print("fault injection:", {k: v for k, v in summary.items() if k != "by_kind"}, [r.__dict__ for r in reports])
    assert summary["requests"] >= 100, summary
    assert summary["5xx"] == 0, [r for r in results if r.status >= 500][:5]
    assert summary["no_answer"] == 0, [r for r in results if r.status == 0][:5]
    assert summary["4xx"] == 0, [r for r in results if 400 <= r.status < 500][:5]
    assert all(summary["by_kind"][kind]["requests"] for kind in summary["by_kind"]), summary["by_kind"]
    assert unexplained_flags(results, outages) == []
    for report in reports:
        assert report.flagged_after_s is not None, f"{report.component} down but no answer said so"
        assert report.health_down, f"/api/health did not show {report.component} down"
        assert report.recovery_s is not None and report.recovery_s <= RECOVERY_LIMIT_S, report
    # The load itself saw the outages too, not only the probes (audio answers are mostly cached by then).
    for flag in ("cf", "cache"):
        assert any(flag in r.degraded for r in results), f"no load answer was marked {flag}"

    writes = lost_writes(before, play_counts(stack.env["DATABASE_URL"], LOAD_USERS), traffic.ledger)
    assert writes["acked"] > 0 and writes["lost"] == {} and writes["extra"] == {}, writes


def test_a_restarted_redis_is_used_again_at_once(stack: Any, demo_tokens: dict[str, str]) -> None:
    """Connections the gateway pooled before a Redis restart are dead; none may cost a degraded answer.

    (Found by the test above: redis-py's ``from_url`` clients never retried, so after Redis came back each
    stale pooled connection failed one command, and answers said ``cache`` was down for seconds.)
    """
    base = stack.url("gateway", "")
    users = {name: demo_tokens[name] for name in LOAD_USERS}
    catalog = discover_catalog(base, users["alice"])
    MixedTraffic(base, users, catalog, concurrency=6, seed=2).run_for(3)  # many pooled Redis connections
    kill(stack, "redis")  # nothing is sent while it is down: the pooled connections stay as they were
    restart(stack, "redis")
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {users['bob']}"}) as client:
        flags = [
            client.get(f"/api/songs/{song}/similar", params={"mode": "cf"}).json()["degraded"]
            for song in catalog.songs[:30]
        ]
    assert flags == [[]] * len(flags)
