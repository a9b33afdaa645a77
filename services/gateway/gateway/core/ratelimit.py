"""In-process sliding-window limiter: failed logins, sound searches.

Keys are strings such as ``"user:alice"`` or ``"ip:10.0.0.7"``. A key is
blocked once it has ``max_failures`` events (failed logins, or searches)
within the last ``window_s`` seconds, until the oldest of them leaves the
window. Thread-safe: the sync routes run in a thread pool.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class SlidingWindowLimiter:
    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float] | None:
        events = self._failures.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if not events:
            del self._failures[key]
            return None
        return events

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until every key may try again, or None when none is blocked."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                events = self._trim(key, now)
                if events is not None and len(events) >= self.max_failures:
                    # Free again when enough failures have aged out to go below the limit.
                    oldest_blocking = events[len(events) - self.max_failures]
                    wait = max(wait, oldest_blocking + self.window_s - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record(self, keys: Iterable[str]) -> None:
        """Count one event (a failed login, a search) for every key."""
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._sweep(now)
            for key in keys:
                events = self._failures.setdefault(key, deque())
                events.append(now)
                while len(events) > self.max_failures:  # older ones no longer matter
                    events.popleft()

    def reset(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop expired keys; if still full, forget the oldest ones (bounded memory under attack)."""
        for key in list(self._failures):
            self._trim(key, now)
        if len(self._failures) >= self._max_keys:
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 10 + 1]:
                del self._failures[key]
