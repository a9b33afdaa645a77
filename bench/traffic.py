"""Mixed traffic, fault injection and process memory for the reliability benches and tests.

Used by bench/bench_faults.py and bench/bench_soak.py (long runs) and by tests/reliability (short runs):
the short test and the long bench run the same code, only for less time.

- :class:`MixedTraffic`: closed-loop async clients (httpx) sending the product's mix: recommendations for
  logged-in demo users, search, plays, similar songs, charts and song pages. Every answer is recorded
  (status, latency, ``degraded``) and every acknowledged play is kept in a ledger, so a run can prove that
  no acknowledged write was lost.
- :func:`kill` / :func:`restart`: SIGKILL a component of the real stack and start it again on its port.
- :class:`Prober`: requests that cannot be answered from a cache, to see whether a component is really used.
- :func:`rss_bytes`: resident memory of a process (psutil).
- :func:`load_stack_module`: the real-stack launcher of the tests (tests/integration/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
#: The word a component's failure puts in an answer's ``degraded`` list.
FLAG = {"cf_service": "cf", "audio_service": "audio", "redis": "cache"}
KINDS = ("recs", "search", "play", "similar", "charts", "song")
#: Share of each kind of request in the mix (browsing dominates; plays are the writes).
WEIGHTS = {"recs": 30, "search": 20, "play": 12, "similar": 18, "charts": 10, "song": 10}


def load_stack_module() -> ModuleType:
    """tests/integration/conftest.py, whose ``Stack`` builds and starts the real stack on loopback."""
    name = "tests.integration.conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "integration" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


@dataclass(frozen=True)
class Result:
    """One request of the load: when it started and ended (monotonic seconds), what came back."""

    kind: str
    start: float
    end: float
    status: int  # 0: no HTTP answer (connection refused, timeout ...)
    degraded: tuple[str, ...] = ()
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Ledger:
    """Plays sent by the load: acknowledged (2xx) per (user, song), and those whose outcome is unknown."""

    acked: Counter[tuple[str, int]] = field(default_factory=Counter)
    unknown: Counter[tuple[str, int]] = field(default_factory=Counter)
    rejected: int = 0


@dataclass
class Catalog:
    """What the load asks about: MSD songs, catalog songs with audio, search words."""

    songs: list[int]
    audio_songs: list[int]
    queries: list[str]


def discover_catalog(base_url: str, token: str) -> Catalog:
    """Songs from the charts and the audio map, search words from their titles and artists (with typos)."""
    with httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
        chart = c.get("/api/charts", params={"n": 100}).json()["items"]
        songs = [item["song"]["id"] for item in chart]
        points = c.get("/api/catalog/map").json()["points"]
        audio_songs = [p["song_id"] for p in points]
    words: list[str] = []
    for item in chart[:40]:
        for text in (item["song"]["title"], item["song"]["artist"]):
            if text:
                words.append(text)
                if len(text) > 4:
                    words.append(text[:2] + text[3:])  # a typo: one letter missing
    assert songs and words, "the stack has no charts to build traffic from"
    return Catalog(songs=songs, audio_songs=audio_songs or songs[:5], queries=words or ["love"])


class MixedTraffic:
    """Closed-loop mixed traffic from ``concurrency`` async clients, in a thread with its own event loop.

    ``users`` maps a name to a session token. ``think_s`` is the pause of each client between requests
    (0: as fast as the gateway answers).
    """

    def __init__(
        self,
        base_url: str,
        users: dict[str, str],
        catalog: Catalog,
        *,
        concurrency: int = 4,
        think_s: float = 0.0,
        timeout_s: float = 30.0,
        seed: int = 0,
    ) -> None:
        self.base_url = base_url
        self.users = users
        self.catalog = catalog
        self.concurrency = concurrency
        self.think_s = think_s
        self.timeout_s = timeout_s
        self.rng = random.Random(seed)
        self.results: list[Result] = []
        self.ledger = Ledger()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = time.monotonic()

    # --- running --------------------------------------------------------------------------

    def start(self) -> MixedTraffic:
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="mixed-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Result]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 10)
        return self.results

    def run_for(self, seconds: float) -> list[Result]:
        self.start()
        time.sleep(seconds)
        return self.stop()

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s, limits=limits) as client:
            await asyncio.gather(*(self._client(client, i) for i in range(self.concurrency)))

    async def _client(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(self.rng.random() + index)
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while not self._stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            await self._one(client, kind, rng)
            if self.think_s:
                await asyncio.sleep(self.think_s)

    async def _one(self, client: httpx.AsyncClient, kind: str, rng: random.Random) -> None:
        user = rng.choice(sorted(self.users))
        headers = {"Authorization": f"Bearer {self.users[user]}"}
        cat = self.catalog
        song = rng.choice(cat.audio_songs if rng.random() < 0.4 else cat.songs)
        write: tuple[str, int] | None = None
        if kind == "recs":
            mode = rng.choice(("hybrid", "hybrid", "cf", "audio"))
            req = client.build_request(
                "GET", "/api/me/recommendations", params={"mode": mode, "n": rng.choice((10, 20))}, headers=headers
            )
        elif kind == "search":
            req = client.build_request(
                "GET", "/api/songs/search", params={"q": rng.choice(cat.queries), "per_page": rng.choice((10, 20))}
            )
        elif kind == "play":
            write = (user, song)
            req = client.build_request("POST", "/api/me/plays", json={"song_id": song}, headers=headers)
        elif kind == "similar":
            req = client.build_request(
                "GET", f"/api/songs/{song}/similar", params={"mode": rng.choice(("hybrid", "cf", "audio"))}
            )
        elif kind == "charts":
            req = client.build_request("GET", "/api/charts", params={"window": rng.choice(("all", "7d")), "n": 20})
        else:
            req = client.build_request("GET", f"/api/songs/{song}", headers=headers)
        start = time.monotonic()
        try:
            resp = await client.send(req)
        except httpx.HTTPError as exc:
            self.results.append(Result(kind, start, time.monotonic(), 0, error=type(exc).__name__))
            if write is not None and not isinstance(exc, httpx.ConnectError):
                self.ledger.unknown[write] += 1  # sent, answer lost: it may or may not have been committed
            await asyncio.sleep(0.1)  # the gateway is down: retry like a client would, not in a tight loop
            return
        end = time.monotonic()
        degraded: tuple[str, ...] = ()
        error = None
        try:
            body = resp.json()
            if isinstance(body, dict):
                degraded = tuple(body.get("degraded") or ())
                if resp.status_code >= 400:
                    error = str((body.get("error") or {}).get("code"))
        except ValueError:
            error = "not JSON" if resp.status_code >= 400 else None
        if write is not None:
            if 200 <= resp.status_code < 300:
                self.ledger.acked[write] += 1
            elif resp.status_code >= 500:
                self.ledger.unknown[write] += 1
            else:
                self.ledger.rejected += 1
        self.results.append(Result(kind, start, end, resp.status_code, degraded, error))


# --- reading the results ---------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def summarize(results: list[Result], seconds: float | None = None) -> dict[str, Any]:
    """Counts, throughput and latency percentiles (ms), overall and per kind."""
    if seconds is None:
        seconds = (max(r.end for r in results) - min(r.start for r in results)) if results else 0.0
    lat = [r.latency * 1000 for r in results if r.status]
    out: dict[str, Any] = {
        "requests": len(results),
        "seconds": seconds,
        "rps": len(results) / seconds if seconds else 0.0,
        "p50_ms": percentile(lat, 0.50),
        "p99_ms": percentile(lat, 0.99),
        "5xx": sum(1 for r in results if r.status >= 500),
        "no_answer": sum(1 for r in results if r.status == 0),
        "4xx": sum(1 for r in results if 400 <= r.status < 500),
        "degraded": sum(1 for r in results if r.degraded),
        # "cf in recs": 3 -- which component each degraded answer named, and on which request kind
        "degraded_by": dict(sorted(Counter(f"{flag} in {r.kind}" for r in results for flag in r.degraded).items())),
        "by_kind": {},
    }
    for kind in KINDS:
        mine = [r for r in results if r.kind == kind]
        ms = [r.latency * 1000 for r in mine if r.status]
        out["by_kind"][kind] = {
            "requests": len(mine),
            "p50_ms": percentile(ms, 0.5),
            "p99_ms": percentile(ms, 0.99),
            "5xx": sum(1 for r in mine if r.status >= 500),
        }
    return out


def unexplained_flags(results: Iterable[Result], outages: dict[str, list[tuple[float, float]]]) -> list[Result]:
    """Answers whose ``degraded`` names a component that was not down at any time during the request.

    ``outages`` maps a flag (``cf``, ``audio``, ``cache``) to the (start, end) intervals in which that
    component was down or recovering.
    """
    bad = []
    for r in results:
        for flag in r.degraded:
            if not any(start <= r.end and r.start <= end for start, end in outages.get(flag, [])):
                bad.append(r)
                break
    return bad


# --- faults ----------------------------------------------------------------------------------


def kill(stack: Any, name: str) -> None:
    """SIGKILL a component of the stack (``cf_service``, ``audio_service``, ``redis``, ``gateway``)."""
    stack.procs[name].kill()


def restart(stack: Any, name: str, timeout: float = 180.0) -> None:
    """Start a killed component again on the same port and wait until it answers."""
    from musicrec_tools.procs import start_redis, wait_http

    if name == "redis":
        stack.procs["redis"] = start_redis(stack.redis_port, stack.tmp / "redis", stack.tmp / "redis.log")
        return
    proc = stack.procs[name]
    proc.start()
    wait_http(stack.url(name, "/health"), timeout=timeout, proc=proc)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> float | None:
    """Seconds until ``check()`` was true, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return time.monotonic() - start
        time.sleep(interval)
    return None


class Prober:
    """Requests that always reach the component under test (nothing cached can answer them).

    - ``cf``: a play (which changes the user's cache key and makes cf fold the user in) then ``mode=cf``;
    - ``audio``: a sound query with a real clip (never cached);
    - ``cache``: any recommendation request reads Redis first.
    """

    def __init__(self, base_url: str, token: str, song_ids: list[int], clip: bytes) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        self.song_ids = song_ids
        self.clip = clip
        self.rng = random.Random(1)

    def probe(self, flag: str) -> httpx.Response:
        if flag == "cf":
            played = self.client.post("/api/me/plays", json={"song_id": self.rng.choice(self.song_ids)})
            assert played.status_code == 201, played.text
            return self.client.get("/api/me/recommendations", params={"mode": "cf", "n": 10})
        if flag == "audio":
            return self.client.post("/api/audio/query", files={"file": ("probe.ogg", self.clip, "audio/ogg")})
        return self.client.get("/api/me/recommendations", params={"mode": "hybrid", "n": 10})

    def full(self, flag: str) -> bool:
        """True when the answer is complete: 200, nothing degraded, items present, not a fallback."""
        resp = self.probe(flag)
        if resp.status_code != 200:
            return False
        body = resp.json()
        return body["degraded"] == [] and bool(body["items"]) and body.get("fallback") is None

    def flagged(self, flag: str) -> bool:
        resp = self.probe(flag)
        assert resp.status_code == 200, f"{flag} probe: {resp.status_code} {resp.text[:300]}"
        return flag in resp.json()["degraded"]

    def close(self) -> None:
        self.client.close()


def play_counts(db_url: str, usernames: Iterable[str]) -> Counter[tuple[str, int]]:
    """The users' play counts per song, read straight from the database (not through the gateway)."""
    from gateway.db.models import Play, User
    from gateway.db.session import make_engine
    from sqlalchemy import select

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(User.username, Play.song_id, Play.count)
                .join(Play, Play.user_id == User.id)
                .where(User.username.in_(list(usernames)))
            ).all()
    finally:
        engine.dispose()
    return Counter({(name, int(song)): int(count) for name, song, count in rows})


def lost_writes(before: Counter[tuple[str, int]], after: Counter[tuple[str, int]], ledger: Ledger) -> dict[str, Any]:
    """Compare the database with the ledger: no acknowledged play may be missing, nothing invented.

    For each (user, song): ``after - before`` must be at least the acknowledged plays and at most the
    acknowledged plus those whose answer never came (they may have been committed).
    """
    lost: dict[str, int] = {}
    extra: dict[str, int] = {}
    for key in set(ledger.acked) | set(ledger.unknown) | set(after):
        gained = after[key] - before[key]
        if gained < ledger.acked[key]:
            lost[f"{key[0]}:{key[1]}"] = ledger.acked[key] - gained
        elif gained > ledger.acked[key] + ledger.unknown[key]:
            extra[f"{key[0]}:{key[1]}"] = gained - ledger.acked[key] - ledger.unknown[key]
    return {"acked": sum(ledger.acked.values()), "unknown": sum(ledger.unknown.values()), "lost": lost, "extra": extra}


@dataclass
class FaultReport:
    component: str
    flagged_after_s: float | None  # kill -> a probe answer names the component in `degraded`
    health_down: bool | None  # /api/health showed the component down (None: not asked, the gateway was down)
    restart_s: float  # restart command -> the component answers its own health check
    recovery_s: float | None  # component answers -> the gateway's probe answer is complete again


def inject(
    stack: Any, name: str, prober: Prober, base_url: str, down_s: float, recovery_limit_s: float = 10.0
) -> tuple[FaultReport, tuple[float, float]]:
    """Kill ``name``, check that answers say so, keep it down ``down_s`` s, restart it, time the recovery.

    Returns the report and the (start, end) interval in which the component counted as down.
    """
    flag = FLAG[name]
    start = time.monotonic()
    kill(stack, name)
    flagged = wait_until(lambda: prober.flagged(flag), timeout=10)
    health = httpx.get(f"{base_url}/api/health", timeout=30).json()
    health_down = health["components"][name]["status"] == "down"
    time.sleep(max(0.0, down_s - (time.monotonic() - start)))
    t_restart = time.monotonic()
    restart(stack, name)
    back = time.monotonic()
    recovery = wait_until(lambda: prober.full(flag), timeout=recovery_limit_s + 20)
    end = time.monotonic()
    return FaultReport(name, flagged, health_down, back - t_restart, recovery), (start, end)


# --- the whole stack, for the bench scripts -------------------------------------------------------


@contextlib.contextmanager
def running_stack(tmp: Path) -> Iterator[Any]:
    """The real stack (tests/integration/conftest.py's ``Stack``: data, cf model, tiny audio pipeline,
    redis-server, cf_service, audio_service, gateway on loopback), stopped on exit."""
    stack = load_stack_module().Stack(tmp)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def login_demo_users(stack: Any, names: Iterable[str] = ("alice", "bob", "carol", "dave")) -> dict[str, str]:
    base = stack.url("gateway", "")
    tokens = {}
    for name in names:
        resp = httpx.post(
            f"{base}/api/auth/login", json={"username": name, "password": stack.env["DEMO_PASSWORD"]}, timeout=60
        )
        resp.raise_for_status()
        tokens[name] = str(resp.json()["token"])
    return tokens


def process_rss(stack: Any) -> dict[str, int]:
    """Resident memory (bytes) of every process of the stack."""
    return {name: rss_bytes(proc.pid) for name, proc in stack.procs.items() if proc.alive()}


def crash_gateway(stack: Any, prober: Prober) -> tuple[FaultReport, tuple[float, float]]:
    """SIGKILL the gateway and start it again at once (as a supervisor would); time it until complete answers."""
    start = time.monotonic()
    kill(stack, "gateway")
    t_restart = time.monotonic()
    restart(stack, "gateway")
    back = time.monotonic()
    recovery = wait_until(lambda: all(prober.full(flag) for flag in FLAG.values()), timeout=60)
    return FaultReport("gateway", None, None, back - t_restart, recovery), (start, time.monotonic())
