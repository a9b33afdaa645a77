"""Rate limits shared by every gateway replica through Redis, with this process's own limiter as fallback.

Production runs several gateway replicas behind one address (3 to 12 in the Kubernetes overlay): limits kept
in each process's memory would let an address try N times as many passwords as configured, one replica
after another. So the count lives in Redis, one sorted set per key (``gw:limit:{name}:{key}``, scored by
Redis's own clock in milliseconds, trimmed to the last ``max_events`` and expiring with the window), and
one Lua script checks or records atomically. When Redis cannot answer, the process falls back to its
in-memory :class:`~gateway.core.ratelimit.SlidingWindowLimiter` (the same rule, per process) rather
than dropping the limit.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from musicrec_common import keys as redis_keys
from musicrec_common.web import ApiError

from gateway.app.cache import Cache
from gateway.core.ratelimit import SlidingWindowLimiter

# KEYS: the limit keys. ARGV: mode, max events, window in ms. Modes: 'check' returns the milliseconds until
# every key is below the limit again (0: none is blocked); 'record' counts one event; 'take' is a check that
# also records when nothing is blocked (one round trip for a limit that counts every admitted attempt).
WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode, max, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if mode ~= 'record' and n >= max then
    local oldest = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if mode == 'check' or wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, now .. '-' .. redis.call('ZCARD', key))
  redis.call('ZREMRANGEBYRANK', key, 0, -(max + 1))
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class SharedLimiter:
    """``max_events`` per key within ``window_s``, counted in Redis across replicas (see the module docstring).

    Same contract as :class:`SlidingWindowLimiter`, but async: :meth:`retry_after` (seconds to wait, or
    None), :meth:`record` (count one event) and :meth:`reset`; :meth:`enforce` and :meth:`take` answer
    the 429 themselves.
    """

    def __init__(self, name: str, cache: Cache, max_events: int, window_s: float) -> None:
        self.name = name
        self.cache = cache  # its client, timeout and breaker: a hung Redis is skipped, not waited for each time
        self.max_events = max_events
        self.window_ms = max(1, int(window_s * 1000))
        self.local = SlidingWindowLimiter(max_events, window_s)
        self._script: Any = None

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return [redis_keys.limit(self.name, key) for key in keys]

    async def _run(self, mode: str, keys: Sequence[str]) -> int | None:
        """The script's answer, or None when Redis could not answer (then the caller uses ``local``)."""
        cache = self.cache
        if not cache.available():
            return None
        if self._script is None:
            self._script = cache.client.register_script(WINDOW)
        try:
            result = await asyncio.wait_for(
                self._script(keys=self._keys(keys), args=[mode, self.max_events, self.window_ms]), cache.timeout_s
            )
        except Exception as exc:
            cache.report_failure(f"limit_{self.name}", exc)
            return None
        return int(result)

    async def retry_after(self, keys: Sequence[str]) -> int | None:
        """Seconds until every key may try again, or None when none is blocked."""
        wait_ms = await self._run("check", keys)
        if wait_ms is None:
            return self.local.retry_after(keys)
        return _seconds(wait_ms)

    async def enforce(self, keys: Sequence[str], what: str) -> None:
        """Raise the 429 (``too many {what}``, with ``Retry-After``) while any of ``keys`` is blocked."""
        _raise_if_blocked(await self.retry_after(keys), what)

    async def take(self, keys: Sequence[str], what: str) -> None:
        """:meth:`enforce`, then count the admitted attempt, in one Redis round trip."""
        wait_ms = await self._run("take", keys)
        if wait_ms is None:
            wait = self.local.retry_after(keys)
            if wait is None:
                self.local.record(keys)
        else:
            wait = _seconds(wait_ms)
        _raise_if_blocked(wait, what)

    async def record(self, keys: Sequence[str]) -> None:
        """Count one event for every key."""
        if await self._run("record", keys) is None:
            self.local.record(keys)

    async def reset(self, keys: Sequence[str]) -> None:
        self.local.reset(keys)
        for key in self._keys(keys):
            await self.cache.delete(key)


def _seconds(wait_ms: int) -> int | None:
    """Whole seconds to wait (at least 1), or None when nothing is blocked."""
    return max(1, math.ceil(wait_ms / 1000)) if wait_ms > 0 else None


def _raise_if_blocked(wait: int | None, what: str) -> None:
    if wait is not None:
        raise ApiError(
            429,
            f"too many {what}, try again in {wait} s",
            details={"retry_after_s": wait},
            headers={"Retry-After": str(wait)},
        )
