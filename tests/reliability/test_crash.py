"""Crash durability: every write the gateway acknowledged survives a SIGKILL of the gateway.

A real gateway process (uvicorn) takes plays and ratings from several concurrent clients; right after
one of them receives an acknowledgement the process group is killed with SIGKILL while the others still
have requests in flight. The gateway is started again on the same database and the database must hold
every acknowledged write (and nothing that was never sent). Two crash rounds per backend: SQLite always,
PostgreSQL and MariaDB/MySQL in a database the test creates (and drops) when ``TEST_POSTGRES_URL`` /
``TEST_MYSQL_URL`` are set (other tests use the configured database itself).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.db import accounts
from gateway.db.migrate import upgrade
from gateway.db.models import Play, PlayEvent, Rating, Song, User
from gateway.db.session import make_engine
from musicrec_tools.procs import ManagedProcess, free_port, python_module, wait_http
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKERS = 4
USERS = 3
SONGS = 24
ACKS_BEFORE_KILL = 40  # per round
ROUNDS = 2

BACKENDS: list[tuple[str, str | None]] = [("sqlite", None)]
if os.environ.get("TEST_POSTGRES_URL"):
    BACKENDS.append(("postgresql", os.environ["TEST_POSTGRES_URL"]))
if os.environ.get("TEST_MYSQL_URL"):
    BACKENDS.append(("mysql", os.environ["TEST_MYSQL_URL"]))


@pytest.fixture(params=BACKENDS, ids=[b[0] for b in BACKENDS])
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file, or a database of its own on the server (other tests use `test`)."""
    kind, server_url = request.param
    if server_url is None:
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    name = f"musicrec_crash_{os.getpid()}_{secrets.token_hex(4)}"  # generated here: safe to quote as a name
    quoted = f'"{name}"' if kind == "postgresql" else f"`{name}`"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {quoted}"))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
        admin.dispose()


@dataclass
class Ledger:
    """What the clients sent and what the gateway acknowledged."""

    acked_plays: Counter[tuple[int, int]] = field(default_factory=Counter)  # (user_id, song_id) -> plays
    unknown_plays: Counter[tuple[int, int]] = field(default_factory=Counter)  # sent, answer never came
    # (user_id, song_id) -> ratings in the order sent, with whether each was acknowledged
    ratings: dict[tuple[int, int], list[tuple[int, bool | None]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acks(self) -> int:
        return sum(self.acked_plays.values()) + sum(1 for v in self.ratings.values() for _, ok in v if ok)


def prepare(url: str) -> tuple[list[tuple[int, str]], list[int]]:
    """Migrated database with songs and users, and a live session for each user: (user_id, token), songs."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for i in range(SONGS):
                conn.execute(insert(Song).values(source="msd", title=f"Crash song {i}", artist=f"Artist {i % 5}"))
        with Session(engine) as db:
            songs = list(db.execute(select(Song.id).order_by(Song.id)).scalars())
            users = []
            for i in range(USERS):
                user = accounts.create_user(db, f"crash_user_{i}", "crash-test-password")
                new = accounts.start_session(db, user.id, dt.timedelta(hours=1))
                users.append((user.id, new.token))
    finally:
        engine.dispose()
    return users, songs


def start_gateway(url: str, tmp: Path, port: int) -> ManagedProcess:
    env = dict(os.environ) | {
        "DATABASE_URL": url,
        "VAR_DIR": str(tmp / "var"),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # no Redis: the database is the only store
        "CF_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "AUDIO_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "SERVE_FRONTEND": "false",
        "LOG_LEVEL": "warning",
    }
    proc = ManagedProcess(
        "gateway", python_module("gateway", "serve", "--port", str(port)), env=env, log_path=tmp / "gateway.log"
    ).start()
    wait_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc)
    return proc


def write_until_killed(
    base: str, gateway: ManagedProcess, users: list[tuple[int, str]], songs: list[int], ledger: Ledger, round_no: int
) -> None:
    """WORKERS clients send plays and ratings; the one that receives the ACKS_BEFORE_KILL-th ack kills."""
    stop = threading.Event()
    acks = [0]
    errors: list[str] = []
    # Each worker rates its own songs, one request at a time: the last acknowledged value is well defined.
    rating_songs = {w: songs[w * 4 : w * 4 + 4] for w in range(WORKERS)}

    def worker(w: int) -> None:
        user_id, token = users[w % len(users)]
        client = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"})
        i = 0
        try:
            while not stop.is_set():
                i += 1
                if i % 3:
                    song = songs[(w * 7 + i * 5 + round_no) % len(songs)]
                    key = (user_id, song)
                    try:
                        resp = client.post("/api/me/plays", json={"song_id": song})
                    except httpx.HTTPError:
                        with ledger.lock:
                            ledger.unknown_plays[key] += 1
                        return
                    if resp.status_code != 201:
                        errors.append(f"play: {resp.status_code} {resp.text[:200]}")
                        return
                    with ledger.lock:
                        ledger.acked_plays[key] += 1
                else:
                    song = rating_songs[w][i % 4]
                    value = 1 + (i + round_no) % 5
                    key = (user_id, song)
                    with ledger.lock:
                        sent = ledger.ratings.setdefault(key, [])
                        sent.append((value, None))
                    try:
                        resp = client.put(f"/api/me/ratings/{song}", json={"rating": value})
                    except httpx.HTTPError:
                        return  # outcome unknown: stays None
                    if resp.status_code != 200:
                        errors.append(f"rating: {resp.status_code} {resp.text[:200]}")
                        return
                    with ledger.lock:
                        sent[-1] = (value, True)
                with ledger.lock:
                    acks[0] += 1
                    kill_now = acks[0] == ACKS_BEFORE_KILL
                if kill_now:  # right after this acknowledgement, with the other clients mid-request
                    gateway.kill()
                    stop.set()
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert not gateway.alive(), "the gateway was not killed"
    assert acks[0] >= ACKS_BEFORE_KILL


def check_database(url: str, ledger: Ledger) -> None:
    """Every acknowledged play and rating is stored; nothing beyond what was sent."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            counts = Counter({(u, s): c for u, s, c in conn.execute(select(Play.user_id, Play.song_id, Play.count))})
            events = Counter(
                {
                    (u, s): n
                    for u, s, n in conn.execute(
                        select(PlayEvent.user_id, PlayEvent.song_id, func.count()).group_by(
                            PlayEvent.user_id, PlayEvent.song_id
                        )
                    )
                }
            )
            ratings = {(u, s): r for u, s, r in conn.execute(select(Rating.user_id, Rating.song_id, Rating.rating))}
    finally:
        engine.dispose()
    for key in set(ledger.acked_plays) | set(ledger.unknown_plays) | set(counts):
        low, high = ledger.acked_plays[key], ledger.acked_plays[key] + ledger.unknown_plays[key]
        assert low <= counts[key] <= high, f"plays of {key}: stored {counts[key]}, acknowledged {low}, sent {high}"
        assert low <= events[key] <= high, f"play events of {key}: stored {events[key]}, acknowledged {low}"
    for key, sent in ledger.ratings.items():
        acked = [i for i, (_, ok) in enumerate(sent) if ok]
        if not acked:
            assert ratings.get(key) in {None, *(v for v, _ in sent)}
            continue
        # The last acknowledged value, or one sent after it whose answer never came.
        allowed = {v for v, _ in sent[acked[-1] :]}
        assert ratings.get(key) in allowed, f"rating of {key}: stored {ratings.get(key)}, allowed {allowed}"
    assert set(ratings) <= set(ledger.ratings), "a rating nobody sent"


def test_acknowledged_writes_survive_sigkill(crash_db: str, tmp_path: Path, cheap_hashing: Any) -> None:
    users, songs = prepare(crash_db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ledger = Ledger()
    gateway = start_gateway(crash_db, tmp_path, port)
    try:
        for round_no in range(ROUNDS):
            write_until_killed(base, gateway, users, songs, ledger, round_no)
            gateway = start_gateway(crash_db, tmp_path, port)  # recovers from the crash on the same files
            check_database(crash_db, ledger)
        print(
            f"crash durability: {ROUNDS} SIGKILLs, {ledger.acks()} acknowledged writes, "
            f"{sum(ledger.unknown_plays.values())} plays in flight at the kills, none lost"
        )
        # The restarted gateway serves what was written before the crashes, and takes new writes.
        user_id, token = users[0]
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            history = client.get("/api/me/history", params={"kind": "ratings", "per_page": 100}).json()
            served = {item["song"]["id"] for item in history["items"]}
            acked = {s for (u, s), sent in ledger.ratings.items() if u == user_id and any(ok for _, ok in sent)}
            assert acked and acked <= served
            resp = client.post("/api/me/plays", json={"song_id": songs[0]})
            assert resp.status_code == 201
    finally:
        gateway.stop()
    engine = make_engine(crash_db)
    with Session(engine) as db:  # the accounts themselves survived too
        assert db.execute(select(func.count()).select_from(User)).scalar_one() == USERS
    engine.dispose()
