"""Holds the in-memory search index and rebuilds it when the songs table changes."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from gateway.core.search import SearchIndex
from gateway.db.catalog import catalog_signature, search_documents

log = logging.getLogger("gateway.search")


class SearchService:
    """Thread-safe owner of a :class:`SearchIndex`.

    Searches use the current index without locking. At most every
    ``check_interval_s`` one caller compares the table's (count, max id, last
    metadata change) with the index's and rebuilds it if songs were added or renamed; other callers keep using
    the previous index meanwhile.
    """

    def __init__(self, engine: Engine, check_interval_s: float = 10.0) -> None:
        self._engine = engine
        self._interval = check_interval_s
        self._index: SearchIndex | None = None
        self._signature: tuple[int, int, str] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _build(self) -> None:
        start = time.perf_counter()
        signature = catalog_signature(self._engine)
        index = SearchIndex(search_documents(self._engine))
        self._index, self._signature, self._checked = index, signature, time.monotonic()
        log.info("search index: %d songs, %d words in %.2fs", len(index), len(index.vocab), time.perf_counter() - start)

    def warm_up(self) -> None:
        """Build in a background thread so start-up does not wait for it."""
        threading.Thread(target=self.index, name="search-index", daemon=True).start()

    def invalidate(self) -> None:
        """Songs were added in this process: check on the next search."""
        self._checked = 0.0

    def index(self) -> SearchIndex:
        current = self._index
        if current is None:
            with self._lock:
                if self._index is None:
                    self._build()
            assert self._index is not None
            return self._index
        if time.monotonic() - self._checked >= self._interval and self._lock.acquire(blocking=False):
            try:
                self._checked = time.monotonic()
                if catalog_signature(self._engine) != self._signature:
                    self._build()
            finally:
                self._lock.release()
        return self._index or current
