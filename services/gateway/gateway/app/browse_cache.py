"""The playable catalog that Subsonic apps browse, kept in memory and rebuilt when the library changes.

Building it reads every playable song (tens of milliseconds for thousands); checking whether it changed is a
few aggregates, asked at most every ``check_s`` seconds, so browsing and search answer from memory.
"""

from __future__ import annotations

import asyncio
import time

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.core.browse import Catalog, build
from gateway.db.browse import fingerprint, playable_tracks


class BrowseCache:
    def __init__(self, engine: Engine, check_s: float = 5.0) -> None:
        self.engine = engine
        self.check_s = check_s
        self._catalog: Catalog | None = None
        self._print: tuple[object, ...] | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    def _refresh(self) -> None:
        with Session(self.engine) as session:
            now_print = fingerprint(session)
            if now_print != self._print or self._catalog is None:
                self._catalog = build(playable_tracks(session))
                self._print = now_print
        self._checked_at = time.monotonic()

    async def get(self) -> Catalog:
        """The catalog, checked against the database when the last check is older than ``check_s``."""
        if self._catalog is not None and time.monotonic() - self._checked_at < self.check_s:
            return self._catalog
        async with self._lock:  # one check at a time; the others wait for its result
            if self._catalog is None or time.monotonic() - self._checked_at >= self.check_s:
                await run_in_threadpool(self._refresh)
        assert self._catalog is not None
        return self._catalog

    def invalidate(self) -> None:
        self._checked_at = 0.0
