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

from musicrec_common.web import ApiError

from gateway.app.cache import Cache
from gateway.core.ratelimit import SlidingWindowLimiter

# KEYS: the limit keys. ARGV: mode ('check' | 'record'), max events, window in ms.
# Returns, for 'check', the milliseconds until every key is below the limit again (0: none is blocked).
WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if ARGV[1] == 'record' then
    redis.call('ZADD', key, now, now .. '-' .. redis.call('ZCARD', key))
    redis.call('ZREMRANGEBYRANK', key, 0, -(max + 1))
    redis.call('PEXPIRE', key, window)
  else
    local n = redis.call('ZCARD', key)
    if n >= max then
      local oldest = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
      wait = math.max(wait, tonumber(oldest[2]) + window - now)
    end
  end
end
return wait
"""


class SharedLimiter:
    """``max_events`` per key within ``window_s``, counted in Redis across replicas (see the module docstring).

    Same contract as :class:`SlidingWindowLimiter`, but async: :meth:`retry_after` (seconds to wait, or
    None), :meth:`record` (count one event) and :meth:`reset`.
    """

    def __init__(self, name: str, cache: Cache, max_events: int, window_s: float) -> None:
        self.name = name
        self.cache = cache  # its client, timeout and breaker: a hung Redis is skipped, not waited for each time
        self.max_events = max_events
        self.window_ms = max(1, int(window_s * 1000))
        self.local = SlidingWindowLimiter(max_events, window_s)
        self._script: Any = None

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return [f"gw:limit:{self.name}:{key}" for key in keys]

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
        return max(1, math.ceil(wait_ms / 1000)) if wait_ms > 0 else None

    async def enforce(self, keys: Sequence[str], what: str) -> None:
        """Raise the 429 (``too many {what}``, with ``Retry-After``) while any of ``keys`` is blocked."""
        wait = await self.retry_after(keys)
        if wait is not None:
            raise ApiError(
                429,
                f"too many {what}, try again in {wait} s",
                details={"retry_after_s": wait},
                headers={"Retry-After": str(wait)},
            )

    async def record(self, keys: Sequence[str]) -> None:
        """Count one event for every key."""
        if await self._run("record", keys) is None:
            self.local.record(keys)

    async def reset(self, keys: Sequence[str]) -> None:
        self.local.reset(keys)
        for key in self._keys(keys):
            await self.cache.delete(key)
