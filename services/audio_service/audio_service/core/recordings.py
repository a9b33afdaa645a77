"""Where an indexed song's recording lives, and its chroma sequence kept for comparisons.

The index's metadata says where each song came from: a catalog song's ``file`` (relative to the catalog folder), a
library song's ``path`` (under the music folder), a song added by ``index --folder`` (``source_path``, a folder the
operator chose) or uploaded (kept in the uploads folder under its id). Only paths the service itself recorded are
read, never one a request names, and a library path must still lie under the music folder.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class NoRecordingError(LookupError):
    """The song is indexed but its recording cannot be read here (moved, or outside the allowed folders)."""


@dataclass(frozen=True)
class Folders:
    catalog: Path
    uploads: Path
    music: Path | None = None


def _inside(path: Path, roots: list[Path]) -> Path | None:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file():
        return None
    return resolved if any(resolved.is_relative_to(r.resolve()) for r in roots) else None


def recording_path(song_id: str, meta: dict[str, Any], folders: Folders) -> Path:
    """The audio file of ``song_id`` (its index ``meta``); :class:`NoRecordingError` when there is none."""
    candidates: list[tuple[Path, list[Path]]] = []
    if meta.get("collection") == "library" and meta.get("path") and folders.music is not None:
        raw = Path(str(meta["path"]))
        candidates.append((raw if raw.is_absolute() else folders.music / raw, [folders.music]))
    if meta.get("file"):
        candidates.append((folders.catalog / str(meta["file"]), [folders.catalog]))
    if meta.get("source_path"):
        # Written by `index --folder`, a folder the operator chose: trusted like the index itself.
        source = Path(str(meta["source_path"]))
        candidates.append((source, [source.parent]))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", song_id)
    if folders.uploads.is_dir():
        candidates += [(p, [folders.uploads]) for p in sorted(folders.uploads.glob(f"{safe}.*"))]
    for path, roots in candidates:
        found = _inside(path, roots)
        if found is not None:
            return found
    raise NoRecordingError(song_id)


def load_recording(
    song_id: str, meta: dict[str, Any], folders: Folders, max_duration_s: float = 3600.0
) -> tuple[np.ndarray, int]:
    """The decoded recording ``(y (n,), sr)`` of an indexed song (:func:`recording_path`; AudioDecodeError when it
    cannot be decoded)."""
    from audio_service.core.decode import DecodeLimits, load_audio

    path = recording_path(song_id, meta, folders)
    return load_audio(path, limits=DecodeLimits(max_bytes=1 << 30, max_duration_s=max_duration_s))


class FeatureCache:
    """The last ``size`` songs' features (e.g. chroma sequences), computed once per song id; thread-safe."""

    def __init__(self, compute: Callable[[str], np.ndarray], size: int = 256) -> None:
        self._compute = compute
        self._size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, song_id: str) -> np.ndarray:
        with self._lock:
            if song_id in self._items:
                self._items.move_to_end(song_id)
                return self._items[song_id]
        value = self._compute(song_id)  # outside the lock: decoding takes a while
        with self._lock:
            self._items[song_id] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value
