"""Redis as a cache that may be missing: every call degrades to a miss instead of failing.

Keys:
- ``cf:version`` -> the cf model version whose precomputed lists are loaded.
- ``cf:{version}:recs:{msd_user_id}`` / ``cf:{version}:similar:{msd_song_id}`` -> JSON lists written by
  ``python -m cf_service publish`` after each training (the version in the key makes the switch atomic).
- ``gw:...`` -> the gateway's own cache-aside entries, with a TTL.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis

from gateway.app.metrics import Metrics


class Cache:
    def __init__(self, client: aioredis.Redis, metrics: Metrics, timeout_s: float) -> None:
        self.client = client
        self.metrics = metrics
        self.timeout_s = timeout_s

    async def _fetch(self, key: str, kind: str, degraded: set[str]) -> tuple[bool, bytes | None]:
        """(reachable, stored bytes); an unreachable or slow Redis counts an error and marks ``cache`` degraded."""
        try:
            raw = await asyncio.wait_for(self.client.get(key), self.timeout_s)
        except Exception:
            self.metrics.inc("gateway_cache_errors_total", kind=kind)
            degraded.add("cache")
            return False, None
        return True, raw if isinstance(raw, bytes | None) else str(raw).encode()

    async def get_raw(self, key: str, kind: str, degraded: set[str]) -> bytes | None:
        """The cached bytes as stored (a hit can be sent as it is, without parsing); hits and misses counted."""
        reachable, raw = await self._fetch(key, kind, degraded)
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

    async def set_json(self, key: str, value: Any, ttl_s: int, degraded: set[str]) -> None:
        if "cache" in degraded:
            return  # already failed in this request: don't wait for another timeout
        try:
            await asyncio.wait_for(
                self.client.set(key, json.dumps(value, separators=(",", ":")), ex=ttl_s), self.timeout_s
            )
        except Exception:
            self.metrics.inc("gateway_cache_errors_total", kind="write")
            degraded.add("cache")
