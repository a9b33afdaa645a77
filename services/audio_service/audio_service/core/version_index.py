"""Possible versions of a song: every indexed song's passages embedded by the version model, in FAISS.

Beside the sound index (which keeps finding songs that *sound* alike), this one finds songs that *play the same
music*: another key, tempo or instrumentation. Each song is a run of consecutive segment vectors (one every ~5 s);
``versions_of`` searches with every segment of a song; every other song with a passage above :data:`CANDIDATE` is a
candidate, kept when the two songs' passage similarity reaches :data:`THRESHOLD` and ranked by it (``score``: each passage's best match in the other song, averaged
both ways) with the share of the song's passages that found it (``coverage``: a cover shares most of them, a
borrowed phrase one).

Files (a versioned folder under ``INDEX_DIR``, switched atomically like the sound index): ``segments.faiss``,
``segments.npz`` (``song`` row and ``start`` seconds of every segment) and ``ids.json``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from musicrec_common.versions import KEEP_VERSIONS

from audio_service.core import index as vindex
from audio_service.core.artifacts import current_dir, new_version_dir, prune, set_current
from audio_service.core.version_model import VersionEmbedder, passage_similarity

# Passage similarity from which two songs are reported as possible versions. On the versioned catalog's held-out
# works (bench/RESULTS.md, "Versions"), 0.75 kept 31 % of the true versions with 0.3 wrong songs per song.
THRESHOLD = 0.75
CANDIDATE = 0.6  # a passage this close makes a song a candidate (then judged by its passage similarity)
NEIGHBOURS = 50  # segments looked up per query segment
SAVE_INTERVAL_S = 300.0  # while songs keep coming, their passages are written at most this often


@dataclass(frozen=True)
class VersionMatch:
    song_id: str
    score: float  # passage similarity of the two songs (version_model.passage_similarity)
    coverage: float  # share of the query song's passages that found this song above CANDIDATE
    query_start: float  # seconds: where the best passage is in the query song ...
    song_start: float  # ... and in this song


class VersionIndex:
    """Songs as segment vectors of the version model. Thread-safe: reads share a lock, writes take it alone."""

    def __init__(self, embedder: VersionEmbedder, index_dir: str | os.PathLike[str]) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.first: list[int] = []  # first segment row of each song (songs' segments are consecutive)
        self.seg_song = np.zeros(0, np.int32)
        self.seg_start = np.zeros(0, np.float32)
        self.vectors = np.zeros((0, embedder.dim), np.float32)
        self.faiss = vindex.make_index(embedder.dim, self.vectors)
        self._lock = threading.RLock()
        self._unsaved = 0
        self._last_save = time.monotonic()

    @classmethod
    def load(
        cls, model_dir: str | os.PathLike[str], index_dir: str | os.PathLike[str], *, create: bool = True
    ) -> VersionIndex:
        self = cls(VersionEmbedder.load(model_dir), index_dir)
        try:
            folder = current_dir(index_dir)
        except FileNotFoundError:
            if create:
                return self
            raise
        meta = json.loads((folder / "ids.json").read_text())
        if meta.get("model_version") not in (None, self.embedder.version):
            return self  # built with another model: start again (the caller re-adds its songs)
        with np.load(folder / "segments.npz", allow_pickle=False) as z:
            self.seg_song = z["song"].astype(np.int32)
            self.seg_start = z["start"].astype(np.float32)
            self.vectors = z["vectors"].astype(np.float32)
        self.ids = [str(i) for i in meta["ids"]]
        self.row_of = {sid: i for i, sid in enumerate(self.ids)}
        self.first = [int(i) for i in np.searchsorted(self.seg_song, np.arange(len(self.ids)))]
        self.faiss = vindex.make_index(self.embedder.dim, self.vectors)
        return self

    def save_if_due(self, min_interval_s: float = SAVE_INTERVAL_S) -> Path | None:
        """Save when songs were added and the last save is ``min_interval_s`` old (a large library's passages are
        hundreds of MB: not rewritten every few songs); None when nothing was saved."""
        if not self._unsaved or time.monotonic() - self._last_save < min_interval_s:
            return None
        return self.save()

    def save(self, keep: int = KEEP_VERSIONS) -> Path:
        with self._lock:
            self._unsaved = 0
            self._last_save = time.monotonic()
            folder = new_version_dir(self.index_dir, prefix="v")
            np.savez(folder / "segments.npz", song=self.seg_song, start=self.seg_start, vectors=self.vectors)
            meta = {"ids": self.ids, "model_version": self.embedder.version, "n_segments": len(self.seg_song)}
            (folder / "ids.json").write_text(json.dumps(meta))
            set_current(self.index_dir, folder.name)
        prune(self.index_dir, "v", keep)
        return folder

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, song_id: object) -> bool:
        return song_id in self.row_of

    def add(self, song_id: str, chroma: np.ndarray) -> None:
        """Embed a song's chroma ``(n, 12)`` and add its segments (a song already here is left alone)."""
        if song_id in self.row_of or len(chroma) == 0:
            return
        _, vecs, starts = self.embedder.embed_chroma(chroma)
        with self._lock:
            row = len(self.ids)
            self.first.append(len(self.seg_song))
            self.ids.append(song_id)
            self.row_of[song_id] = row
            self.seg_song = np.concatenate([self.seg_song, np.full(len(vecs), row, np.int32)])
            self.seg_start = np.concatenate([self.seg_start, starts.astype(np.float32)])
            self.vectors = np.concatenate([self.vectors, vecs.astype(np.float32)])
            self.faiss.add(vecs.astype(np.float32))
            self._unsaved += 1

    def add_audio(self, song_id: str, y: np.ndarray, sr: int) -> None:
        """:meth:`add` for mono audio ``y`` (the model's own chroma)."""
        if song_id not in self.row_of:
            self.add(song_id, self.embedder.features(y, sr))

    def segments_of(self, song_id: str) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors (k, D), starts (k,))`` of an indexed song (KeyError when it is not)."""
        row = self.row_of[song_id]
        with self._lock:
            a = self.first[row]
            b = self.first[row + 1] if row + 1 < len(self.first) else len(self.seg_song)
            return self.vectors[a:b], self.seg_start[a:b]

    def match(
        self,
        vectors: np.ndarray,
        starts: np.ndarray,
        n: int = 10,
        threshold: float = THRESHOLD,
        exclude: str | None = None,
        symmetric: bool = False,
    ) -> list[VersionMatch]:
        """Songs sharing passages with the query segments ``vectors (k, D)`` (their ``starts (k,)`` in seconds).

        ``symmetric``: the query is a whole song, judged both ways; else a clip, judged by how well it is found.
        """
        with self._lock:
            if len(self.seg_song) == 0 or len(vectors) == 0:
                return []
            k = min(NEIGHBOURS, len(self.seg_song))
            scores, rows = vindex.search(self.faiss, vectors.astype(np.float32), k)
            seg_song, seg_start, ids = self.seg_song, self.seg_start, self.ids
        best: dict[int, tuple[float, float, float]] = {}  # song row -> (score, query start, song start)
        found_by: dict[int, set[int]] = {}
        skip = self.row_of.get(exclude) if exclude is not None else None
        for q in range(len(vectors)):
            for score, row in zip(scores[q], rows[q], strict=True):
                if row < 0 or score < min(CANDIDATE, threshold):
                    continue
                song = int(seg_song[row])
                if song == skip:
                    continue
                found_by.setdefault(song, set()).add(q)
                if song not in best or score > best[song][0]:
                    best[song] = (float(score), float(starts[q]), float(seg_start[row]))
        out = []
        for song, (_, qs, ss) in best.items():
            a = self.first[song]
            b = self.first[song + 1] if song + 1 < len(self.first) else len(self.seg_song)
            shared = passage_similarity(vectors, self.vectors[a:b], symmetric)
            if shared < threshold:
                continue
            out.append(
                VersionMatch(
                    song_id=ids[song],
                    score=round(shared, 4),
                    coverage=round(len(found_by[song]) / len(vectors), 3),
                    query_start=round(qs, 2),
                    song_start=round(ss, 2),
                )
            )
        out.sort(key=lambda m: (-m.score, -m.coverage))
        return out[:n]

    def versions_of(self, song_id: str, n: int = 10, threshold: float = THRESHOLD) -> list[VersionMatch]:
        """Other songs that may be versions of ``song_id`` (KeyError when it is not indexed)."""
        vectors, starts = self.segments_of(song_id)
        return self.match(vectors, starts, n=n, threshold=threshold, exclude=song_id, symmetric=True)


def recording_chroma(
    args: tuple[str, dict[str, object], object, tuple[float, float] | None],
) -> tuple[str, np.ndarray | str]:
    """``(song_id, chroma (n, 12) float16)`` of an indexed song's recording, or ``(song_id, why not)``."""
    from audio_service.core.decode import AudioDecodeError
    from audio_service.core.recordings import Folders, NoRecordingError, load_recording
    from audio_service.core.version_model import features

    song_id, meta, folders, band = args
    assert isinstance(folders, Folders)
    try:
        y, sr = load_recording(song_id, dict(meta), folders)
    except (NoRecordingError, AudioDecodeError) as exc:
        return song_id, f"{type(exc).__name__}: {exc}"[:200]
    return song_id, features(y, sr, band).astype(np.float16)


def add_recordings(
    versions: VersionIndex,
    metadata: dict[str, dict[str, object]],
    folders: object,
    *,
    workers: int = 1,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> dict[str, object]:
    """Add every song of ``metadata`` (the sound index's) that the version index lacks; a summary."""
    from multiprocessing import get_context

    from musicrec_common.progress import tqdm

    band = versions.embedder.band
    todo = [(sid, meta, folders, band) for sid, meta in metadata.items() if sid not in versions]
    failed: dict[str, str] = {}
    added = 0
    pool = get_context("fork").Pool(workers) if workers > 1 and len(todo) > 1 else None
    results = pool.imap(recording_chroma, todo, chunksize=4) if pool is not None else map(recording_chroma, todo)
    try:
        for song_id, chroma in tqdm(results, total=len(todo), desc="versions index", unit="song", disable=not progress):
            if stop is not None and stop.is_set():
                break
            if isinstance(chroma, str):
                failed[song_id] = chroma
            else:
                versions.add(song_id, chroma.astype(np.float32))
                added += 1
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return {"added": added, "failed": len(failed), "songs": len(versions), "errors": failed}
