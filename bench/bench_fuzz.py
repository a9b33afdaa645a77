"""Fuzzing (long version of tests/reliability/test_fuzz.py and test_bad_audio.py).

Builds and starts the real stack on loopback, then:

1. schemathesis against the gateway's OpenAPI schema: every operation, valid and invalid generated input,
   anonymous / bearer token / session cookie; checks: no 5xx, documented status codes, content types and
   headers, bodies matching the schema, invalid input rejected. (The app runs in-process on the stack's
   database, Redis and services, with its own login limiter.)
2. Malformed audio to ``POST /api/audio/query`` through the real gateway and audio_service: the generated
   corpus of bench/badaudio.py, a decompression bomb and random mutations of real files. Each must be
   answered (4xx, or 200 when the mutant still decodes), never with a 5xx or by a crashed audio_service,
   and audio_service's resident memory must stay bounded.

    python bench/bench_fuzz.py                                  # 100 examples per operation x mode x client
    python bench/bench_fuzz.py --max-examples 5 --mutations 20  # a quick check
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from badaudio import BadInput, corpus, decompression_bomb, mutations
from fuzzing import fuzz, session_factory
from results import publish
from traffic import REPO, login_demo_users, rss_bytes, running_stack

RSS_GROWTH_LIMIT = 400 * 2**20
WRITE_OPERATIONS = (
    "POST /api/me/imports",
    "POST /1/submit-listens",
    "/api/admin/library/",
    "POST /api/me/scrobble-tokens",
)


def db_snapshot(url: str) -> dict[str, int]:
    """Row counts (and total plays) of every table a history or library write touches."""
    from gateway.db.models import LibraryFile, Play, PlayEvent, ScrobbleToken, Song
    from gateway.db.session import make_engine
    from sqlalchemy import func, select

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            model.__tablename__: int(conn.execute(select(func.count()).select_from(model)).scalar_one())
            for model in (Play, PlayEvent, LibraryFile, ScrobbleToken, Song)
        }
        out["play_count_sum"] = int(conn.execute(select(func.coalesce(func.sum(Play.count), 0))).scalar_one())
        out["library_songs"] = int(
            conn.execute(
                select(func.count()).select_from(LibraryFile).where(LibraryFile.match_status == "confirmed")
            ).scalar_one()
        )
    engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100, help="per operation, mode and kind of client")
    parser.add_argument("--mutations", type=int, default=500, help="random mutations of real audio files")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args()
    from gateway.app.main import create_app

    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp_s, running_stack(Path(tmp_s)) as stack:
        env = stack.env
        app = create_app(stack.gateway_settings())
        report = fuzz(app, session_factory(env["DATABASE_URL"], "bob"), max_examples=args.max_examples, seed=args.seed)
        print(f"schemathesis: {report.total} cases, {len(report.failures)} failures", flush=True)

        # Writes of the history and the library (imports, scrobbles, tokens, the admin's match review) with
        # invalid input only, as an administrator: every case must be refused and leave the database as it was.
        before = db_snapshot(env["DATABASE_URL"])
        writes = fuzz(
            app,
            session_factory(env["DATABASE_URL"], "admin"),
            max_examples=args.max_examples,
            modes=("negative",),
            seed=args.seed,
            skip=lambda label: not any(w in label for w in WRITE_OPERATIONS),
        )
        after = db_snapshot(env["DATABASE_URL"])
        print(
            f"rejected writes: {writes.total} cases, {len(writes.failures)} failures, {before} -> {after}", flush=True
        )

        token = login_demo_users(stack, ["carol"])["carol"]
        items = [
            *corpus(args.seed),
            BadInput("bomb.flac", decompression_bomb(), "audio/flac", "decompression bomb"),
            *mutations(args.mutations, args.seed),
        ]
        audio = stack.procs["audio_service"]
        pid = audio.pid
        start_rss = peak = rss_bytes(pid)
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        statuses: Counter[int] = Counter()
        problems: list[str] = []
        started = time.monotonic()
        with httpx.Client(
            base_url=stack.url("gateway", ""), timeout=120, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for item in items:
                resp = client.post("/api/audio/query", files={"file": (item.name, item.data, item.content_type)})
                statuses[resp.status_code] += 1
                body = resp.json()
                if resp.status_code >= 500 or (resp.status_code == 200 and body.get("degraded")):
                    problems.append(f"{item.name} ({item.what}): {resp.status_code} {resp.text[:200]}")
                elif resp.status_code >= 400 and not body.get("error", {}).get("message"):
                    problems.append(f"{item.name}: {resp.status_code} without a message")
                elif resp.status_code == 200 and item in items[: len(items) - args.mutations]:
                    problems.append(f"{item.name} ({item.what}) was accepted")
            valid = client.post(
                "/api/audio/query",
                files={
                    "file": (
                        "ok.ogg",
                        (REPO / "data/audio/fixtures/sorohanro_-_solo-trumpet-06.ogg").read_bytes(),
                        "audio/ogg",
                    )
                },
            )
        audio_seconds = time.monotonic() - started
        stop.set()
        watcher.join()
        alive = audio.alive() and audio.pid == pid
        if valid.status_code != 200 or not valid.json()["items"]:
            problems.append(f"a valid clip afterwards: {valid.status_code} {valid.text[:200]}")

    growth = peak - start_rss
    unchanged = before == after
    ok = (
        not report.failures
        and not writes.failures
        and unchanged
        and not problems
        and alive
        and growth < RSS_GROWTH_LIMIT
        and report.total > 0
    )
    failures = "\n".join(f"- `{k}`: {v.splitlines()[0][:200]}" for k, v in report.failures.items()) or "none"
    body = f"""
Real stack on loopback (SQLite, redis-server, cf_service, audio_service with the tiny test model, gateway).

**Schemathesis** {report.total:,} generated cases in {report.seconds:.0f} s over {len(report.operations)} operations
(up to {args.max_examples} per operation x valid/invalid input x anonymous/bearer/cookie), checks: no 5xx, documented
status codes, content types and headers, response bodies matching the schema, invalid input rejected.
Statuses: {", ".join(f"{k}: {v:,}" for k, v in sorted(report.statuses.items()))}. Failures: {failures}

**Rejected writes change nothing**: {writes.total:,} invalid generated requests, as an administrator, to the
{len(writes.operations)} operations that write history or library data ({", ".join(f"`{o}`" for o in writes.operations)}):
statuses {", ".join(f"{k}: {v:,}" for k, v in sorted(writes.statuses.items()))}; failures {len(writes.failures)};
database before {before}, after {after}: {"unchanged" if unchanged else "**CHANGED**"}.

**Malformed audio** {len(items):,} uploads to `POST /api/audio/query` in {audio_seconds:.0f} s: {len(items) - args.mutations - 1}
hand-made malformed files, a decompression bomb ({len(items[len(items) - args.mutations - 1].data) / 1e6:.2f} MB of FLAC,
0.9 GB decoded) and {args.mutations} random mutations of real files. Statuses:
{", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))} (5xx: **{sum(v for k, v in statuses.items() if k >= 500)}**).
Problems: {len(problems)}{"" if not problems else " - " + "; ".join(problems[:5])}. audio_service {"kept running (same process)" if alive else "DIED"};
its RSS {start_rss / 2**20:.0f} MB before, peak {peak / 2**20:.0f} MB (+{growth / 2**20:.0f} MB, limit +{RSS_GROWTH_LIMIT / 2**20:.0f} MB).
A valid clip afterwards: {valid.status_code}.

Verdict: {"PASS" if ok else "FAIL"}.
"""
    publish("Fuzzing: the API schema and malformed audio", body, write=not args.no_write)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
