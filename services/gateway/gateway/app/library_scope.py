"""The ``library`` scope: lists drawn only from the songs the music folder can play.

:class:`LibraryScope` holds those songs (gateway ids, and their keys in the collaborative model: MSD ids where
the file matched one), read from the database at most every ``ttl_s`` seconds. The scope a request gets when it
names none is ``library`` as soon as the folder has a playable song, ``all`` before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from gateway.db.export import cf_song_key
from gateway.db.library import playable_library

Scope = Literal["all", "library"]
SCOPES: tuple[Scope, ...] = ("all", "library")


@dataclass(frozen=True)
class Playable:
    """The library's songs: ``song_ids`` (gateway ids) and ``cf_keys`` (their ids in the cf model)."""

    song_ids: frozenset[int]
    cf_keys: tuple[str, ...]


class LibraryScope:
    def __init__(self, engine: Engine, ttl_s: float = 5.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._playable = Playable(frozenset(), ())
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def refresh_if_stale(self) -> Playable:
        """The library's songs, read again when older than ``ttl_s`` (blocking: call from a worker thread)."""
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at >= self.ttl_s:
                rows = playable_library(self.engine)
                self._playable = Playable(
                    frozenset(i for i, _ in rows), tuple(sorted(cf_song_key(i, m) for i, m in rows))
                )
                self._loaded_at = now
            return self._playable

    def fresh(self) -> Playable | None:
        """The library's songs if read less than ``ttl_s`` ago, else None (no database access, no blocking)."""
        loaded = self._loaded_at
        if loaded is None or time.monotonic() - loaded >= self.ttl_s:
            return None
        return self._playable

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None

    @property
    def known_default(self) -> Scope:
        """The default scope as last read (no database access: for the cached fast path)."""
        return "library" if self._playable.song_ids else "all"
