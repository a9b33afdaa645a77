"""The catalog's matching index, built once and rebuilt when songs are added or renamed."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.core.matching import MsdIndex
from gateway.db.catalog import catalog_signature
from gateway.db.history_import import catalog_index


class MatcherService:
    """Thread-safe owner of the :class:`MsdIndex` of every titled song (history imports, scrobbles).

    Each call compares the catalog's signature (count, largest id, last metadata change: one cheap query)
    with the index's and rebuilds it when they differ, so a scan or an import is seen by the next match.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._index: MsdIndex | None = None
        self._signature: tuple[int, int, str] | None = None
        self._lock = threading.Lock()

    def index(self) -> MsdIndex:
        signature = catalog_signature(self._engine)
        with self._lock:
            if self._index is None or signature != self._signature:
                with Session(self._engine) as session:
                    self._index = catalog_index(session)
                self._signature = signature
            return self._index
