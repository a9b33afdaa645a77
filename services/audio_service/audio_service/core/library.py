"""Sound analysis of a music library: whole files embedded and indexed in the background.

The gateway's scan names the files of the music folder (an audio id and the file's absolute path);
:class:`LibraryAnalyzer` queues them and one worker thread decodes each whole song, embeds it (a track
vector and patch vectors on a :data:`LIBRARY_HOP` grid) and adds it to the index: the song then shows up
in sound-alike lists, search by clip and the map.

Nothing is analysed twice: an id already indexed or already queued is skipped, so submitting the same
library again (after a restart, a crash, a rescan) adds nothing twice. The index is written every
``save_every`` songs or ``save_interval_s`` seconds and whenever the queue runs dry; a service killed in
between loses at most the songs since the last save, which the gateway's next submission queues again.
Only files under the configured music folder are read.
"""

from __future__ import annotations

import collections
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audio_service.core.decode import AudioDecodeError, CorruptAudioError, DecodeLimits, load_audio
from audio_service.core.features import PATCH_HOP, SR

log = logging.getLogger("audio_service.library")

#: Patch grid of library songs (64 frames ≈ 1.49 s, 50 % overlap): whole songs are long, and the patch
#: index of a 10,000-song library stays under 1 GB (≈ 160 patches of 128 floats per 4-minute song).
LIBRARY_HOP = PATCH_HOP
#: Containers libsndfile cannot open; decoded through ffmpeg when it is installed.
FFMPEG_ONLY = {".m4a", ".mp4", ".aac"}
MAX_ERRORS = 200  # the last failures kept for the status answer


@dataclass(frozen=True)
class LibraryItem:
    """A file to analyse: ``audio_id`` is the id it gets in the index; ``path`` is absolute."""

    audio_id: str
    path: str
    title: str | None = None
    artist: str | None = None


@dataclass
class AnalysisStatus:
    """Where the background analysis stands.

    ``songs_per_minute`` is measured over the current run (decode, embedding and indexing);
    ``eta_s`` is the queue divided by that rate (None before the first song of a run).
    """

    queued: int
    running: str | None
    done: int
    failed: int
    indexed: int
    songs_per_minute: float | None
    eta_s: float | None
    errors: list[tuple[str, str]] = field(default_factory=list)


class LibraryAnalyzer:
    """A queue of library files and the worker thread that indexes them into an ``AudioSearch``."""

    def __init__(
        self,
        search: Any,  # audio_service.core.search.AudioSearch
        music_dir: Path | None,
        *,
        limits: DecodeLimits | None = None,
        hop: int = LIBRARY_HOP,
        save_every: int = 25,
        save_interval_s: float = 30.0,
        on_saved: Callable[[], None] | None = None,
    ) -> None:
        self.search = search
        self.music_dir = music_dir.resolve() if music_dir is not None else None
        self.limits = limits or DecodeLimits(max_bytes=1 << 30, max_duration_s=3600.0)
        self.hop = hop
        self.save_every = save_every
        self.save_interval_s = save_interval_s
        self.on_saved = on_saved
        self.versions: Any = None  # audio_service.core.version_index.VersionIndex, when a version model is loaded
        self._queue: collections.deque[LibraryItem] = collections.deque()
        self._queued_ids: set[str] = set()
        self._cond = threading.Condition()
        self._running: str | None = None
        self._done = 0
        self._failed = 0
        self._errors: collections.deque[tuple[str, str]] = collections.deque(maxlen=MAX_ERRORS)
        self._run_started: float | None = None
        self._run_done = 0
        self._unsaved = 0
        self._last_save = time.monotonic()
        self._stop = False
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- queue
    def resolve(self, path: str) -> Path:
        """The file ``path`` names, checked to be a file under the music folder (else ValueError)."""
        if self.music_dir is None:
            raise ValueError("audio_service has no MUSIC_DIR: it cannot read library files")
        p = Path(path)
        if not p.is_absolute():
            p = self.music_dir / p
        resolved = p.resolve()
        if not resolved.is_relative_to(self.music_dir):
            raise ValueError("outside MUSIC_DIR")
        if not resolved.is_file():
            raise ValueError("no such file")
        return resolved

    def submit(self, items: Iterable[LibraryItem]) -> tuple[int, int, list[tuple[str, str]]]:
        """Queue the files not yet indexed or queued: ``(queued, already, rejected [(audio_id, reason)])``."""
        queued = already = 0
        rejected: list[tuple[str, str]] = []
        with self._cond:
            for item in items:
                if item.audio_id in self.search.row_of or item.audio_id in self._queued_ids:
                    already += 1
                    continue
                try:
                    self.resolve(item.path)
                except ValueError as exc:
                    rejected.append((item.audio_id, str(exc)))
                    continue
                self._queue.append(item)
                self._queued_ids.add(item.audio_id)
                queued += 1
            if queued and self._run_started is None:
                self._run_started, self._run_done = time.monotonic(), 0
            self._cond.notify_all()
        return queued, already, rejected

    def status(self) -> AnalysisStatus:
        with self._cond:
            queued = len(self._queue)
            rate = None
            if self._run_started is not None and self._run_done:
                rate = self._run_done / max(1e-6, time.monotonic() - self._run_started) * 60.0
            return AnalysisStatus(
                queued=queued,
                running=self._running,
                done=self._done,
                failed=self._failed,
                indexed=len(self.search),
                songs_per_minute=round(rate, 2) if rate else None,
                eta_s=round((queued + (1 if self._running else 0)) / rate * 60.0, 1) if rate else None,
                errors=list(self._errors)[-20:],
            )

    def attach(self, search: Any) -> None:
        """Index into ``search`` from now on (after a reload); queued ids it already holds are dropped."""
        with self._cond:
            self.search = search
            keep = [i for i in self._queue if i.audio_id not in search.row_of]
            self._queue = collections.deque(keep)
            self._queued_ids = {i.audio_id for i in keep}

    # ---------------------------------------------------------------- work
    def analyse(self, item: LibraryItem) -> None:
        """Decode the whole file, embed it and add it to the index (raises AudioDecodeError / ValueError)."""
        path = self.resolve(item.path)
        y = self._decode(path)
        emb = self.search.embedder.embed_track(y, hop=self.hop)
        meta = {
            "id": item.audio_id,
            "title": item.title or path.stem,
            "artist": item.artist,
            "collection": "library",
            "path": item.path,  # where comparisons and melody search read the file again
            "duration_s": round(len(y) / SR, 3),
        }
        self.search.add_embedding(item.audio_id, emb, {k: v for k, v in meta.items() if v is not None})
        versions = self.versions
        if versions is not None:
            try:  # the song's passages for "possible versions"; the sound analysis stands without them
                versions.add_audio(item.audio_id, y, SR)
            except Exception:
                log.exception("version embedding of %s failed", item.path)

    def _decode(self, path: Path) -> np.ndarray:
        if path.suffix.lower() in FFMPEG_ONLY:
            if shutil.which("ffmpeg") is None:
                raise CorruptAudioError(f"{path.suffix} files need ffmpeg, which is not installed")
            import librosa  # audioread -> ffmpeg

            y, _ = librosa.load(path, sr=SR, mono=True, duration=self.limits.max_duration_s)
            return np.asarray(y, np.float32)
        y, _ = load_audio(path, target_sr=SR, limits=self.limits)
        return y

    def step(self) -> bool:
        """Analyse the next queued file (False when the queue is empty). Saves the index when due."""
        with self._cond:
            if not self._queue:
                return False
            item = self._queue.popleft()
            self._running = item.audio_id
        error: str | None = None
        try:
            self.analyse(item)
        except (AudioDecodeError, ValueError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # a bug or a broken model must not kill the worker
            log.exception("analysis of %s failed", item.path)
            error = f"{type(exc).__name__}: {exc}"[:300]
        with self._cond:
            self._running = None
            self._queued_ids.discard(item.audio_id)
            self._run_done += 1
            if error is None:
                self._done += 1
                self._unsaved += 1
            else:
                self._failed += 1
                self._errors.append((item.audio_id, error))
            idle = not self._queue
            if idle:
                self._run_started = None  # the next submission starts a new run (and a new rate)
            due = bool(self._unsaved) and (
                idle or self._unsaved >= self.save_every or time.monotonic() - self._last_save >= self.save_interval_s
            )
        if due:
            self.save(final=idle)
        return True

    def save(self, final: bool = True) -> None:
        """Save the sound index; the versions' passages too when ``final`` (the queue is empty), else when due."""
        versions = self.versions
        with self._cond:
            if not self._unsaved:
                if final and versions is not None:
                    versions.save_if_due(0.0)
                return
            self._unsaved = 0
            self._last_save = time.monotonic()
        self.search.save()
        if versions is not None:
            from audio_service.core.version_index import SAVE_INTERVAL_S

            versions.save_if_due(0.0 if final else SAVE_INTERVAL_S)
        if self.on_saved is not None:
            self.on_saved()

    def run_until_idle(self) -> None:
        """Work through the queue in this thread, then save (tests, command line)."""
        while self.step():
            pass
        self.save()

    def start(self) -> None:
        """Start the background worker (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="library-analysis", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the song in hand, save, stop the worker."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.save()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait(timeout=5.0)
                if self._stop:
                    return
            self.step()
