"""Possible versions of a song: every indexed song's passages embedded by the version model, in FAISS.

Beside the sound index (which keeps finding songs that *sound* alike), this one finds songs that *play the same
music*: another key, tempo or instrumentation. Each song is kept as its
:class:`~audio_service.core.version_model.Passages`: segment vectors one every ~1 s (``INDEX_HOP`` frames) and its
pooled chroma. ``versions_of`` searches with every segment of a song; the songs whose passages come up among the
nearest :data:`NEIGHBOURS` are candidates, judged by
:func:`~audio_service.core.version_model.version_score`: passage similarity (*do the two play the same
passages?*) plus Qmax alignment (*in the same order?*). ``coverage`` is the share of the query's passages that
found the song (a cover shares most of them, a borrowed phrase one).

Files (a versioned folder under ``INDEX_DIR``, switched atomically like the sound index): ``segments.faiss``,
``segments.npz`` (``song`` row and ``start`` seconds of every segment, their vectors, every song's pooled
chroma: ``align`` rows, ``align_song`` their song, and every song's alignment ``background``; with a melody-line
model, every song's pooled melody line likewise: ``melody``, ``melody_song``, ``melody_background``) and
``ids.json``.
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

from audio_service.core import align
from audio_service.core import index as vindex
from audio_service.core.artifacts import current_dir, new_version_dir, prune, set_current
from audio_service.core.version_model import Passages, VersionEmbedder, version_score

# version_score from which two songs are reported as possible versions, chosen on the versioned catalog's held-out
# works (bench/RESULTS.md, "Versions", lists each threshold) for about 0.2 wrong songs per song: with the melody
# lines aligned too, 69 % of the true versions with 0.16 wrong songs per song (without them the fine-tuned weights
# needed 1.2 for 64 % / 0.17; the first constant-Q weights 1.3 for 62 % / 0.16).
THRESHOLD = 1.6
NEIGHBOURS = 200  # segments looked up per query segment (a song's neighbouring segments overlap: ~20 songs)
SEARCH_ROWS = 4000  # ... or more, for a short query, up to this many in all
CANDIDATES = 200  # songs judged per query at most: those whose passages came up most often
SAVE_INTERVAL_S = 300.0  # while songs keep coming, their passages are written at most this often
# 4: + each song's melody line (3: + each song's alignment background; 2: segments every INDEX_HOP frames and pooled
# chroma; 1: segments)
FORMAT = 4


@dataclass(frozen=True)
class VersionMatch:
    song_id: str
    score: float  # version_score of the two songs
    coverage: float  # share of the query song's passages that found this song among their nearest
    query_start: float  # seconds: where the best passage is in the query song ...
    song_start: float  # ... and in this song


class _Rows:
    """A growing array: rows appended in amortised constant time (the buffer doubles when full), read as a view of
    the filled rows (a view taken before an append stays valid: appends write only past it or into a new buffer)."""

    def __init__(self, rows: np.ndarray) -> None:
        self._buf = rows
        self._n = len(rows)

    @property
    def array(self) -> np.ndarray:
        return self._buf[: self._n]

    def extend(self, rows: np.ndarray) -> None:
        need = self._n + len(rows)
        if need > len(self._buf):
            grown = np.empty((max(need, 2 * len(self._buf), 64), *self._buf.shape[1:]), self._buf.dtype)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = rows
        self._n = need


class VersionIndex:
    """Songs as segment vectors of the version model and pooled chroma. Thread-safe: reads share a lock, writes
    take it alone."""

    def __init__(self, embedder: VersionEmbedder, index_dir: str | os.PathLike[str]) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.first: list[int] = []  # first segment row of each song (songs' segments are consecutive)
        # Per segment: its song's row, start (s) and vector (dim,); per song: its background.
        self._seg_song = _Rows(np.zeros(0, np.int32))
        self._seg_start = _Rows(np.zeros(0, np.float32))
        self._vectors = _Rows(np.zeros((0, embedder.dim), np.float32))
        self.aligned: list[np.ndarray] = []  # per song: align.align_sequence of its chroma, (n_i, 12) float16
        self._background = _Rows(np.zeros((0, 4), np.float32))  # per song: align.Cohort.background
        self.melody: list[np.ndarray] = []  # per song: its pooled melody line (m_i, 12) float16, empty without
        self._melody_background = _Rows(np.zeros((0, 4), np.float32))  # ... and its background
        self.faiss = vindex.make_index(embedder.dim, self.vectors)
        self._lock = threading.RLock()
        self._unsaved = 0
        self._last_save = time.monotonic()

    @property
    def seg_song(self) -> np.ndarray:
        """``(segments,)`` int32: each segment's song row."""
        return self._seg_song.array

    @property
    def seg_start(self) -> np.ndarray:
        """``(segments,)`` float32: each segment's start in its song (seconds)."""
        return self._seg_start.array

    @property
    def vectors(self) -> np.ndarray:
        """``(segments, dim)`` float32: the segment vectors (as in FAISS)."""
        return self._vectors.array

    @property
    def background(self) -> np.ndarray:
        """``(songs, 4)`` float32: each song's alignment background (``align.Cohort.background``)."""
        return self._background.array

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
        if (
            meta.get("model_version") not in (None, self.embedder.version)
            or meta.get("format") not in (3, FORMAT)  # 3 = no melody lines: read as empty ones
            or meta.get("cohort", "none") != self.embedder.cohort_id
        ):
            return self  # built with another model, layout or cohort: start again (the caller re-adds its songs)
        with np.load(folder / "segments.npz", allow_pickle=False) as z:
            self._seg_song = _Rows(z["song"].astype(np.int32))
            self._seg_start = _Rows(z["start"].astype(np.float32))
            self._vectors = _Rows(z["vectors"].astype(np.float32))
            align_rows, align_song = z["align"], z["align_song"]
            self._background = _Rows(z["background"].astype(np.float32))
            if "melody" in z.files:
                melody_rows, melody_song = z["melody"], z["melody_song"]
                self._melody_background = _Rows(z["melody_background"].astype(np.float32))
            else:  # written before melody lines (format 3): its model read none
                melody_rows, melody_song = np.zeros((0, 12), np.float16), np.zeros(0, np.int32)
                self._melody_background = _Rows(np.tile(align.NO_BACKGROUND, (len(meta["ids"]), 1)))
        self.ids = [str(i) for i in meta["ids"]]
        self.row_of = {sid: i for i, sid in enumerate(self.ids)}
        self.first = [int(i) for i in np.searchsorted(self.seg_song, np.arange(len(self.ids)))]
        cuts = np.searchsorted(align_song, np.arange(1, len(self.ids)))
        self.aligned = list(np.split(align_rows, cuts)) if self.ids else []
        cuts = np.searchsorted(melody_song, np.arange(1, len(self.ids)))
        self.melody = list(np.split(melody_rows, cuts)) if self.ids else []
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
            lengths = [len(a) for a in self.aligned]
            melody_lengths = [len(m) for m in self.melody]
            np.savez(
                folder / "segments.npz",
                song=self.seg_song,
                start=self.seg_start,
                vectors=self.vectors,
                align=np.concatenate(self.aligned) if self.aligned else np.zeros((0, 12), np.float16),
                align_song=np.repeat(np.arange(len(lengths), dtype=np.int32), lengths),
                background=self.background,
                melody=np.concatenate(self.melody) if self.melody else np.zeros((0, 12), np.float16),
                melody_song=np.repeat(np.arange(len(melody_lengths), dtype=np.int32), melody_lengths),
                melody_background=self._melody_background.array,
            )
            meta = {
                "ids": self.ids,
                "model_version": self.embedder.version,
                "cohort": self.embedder.cohort_id,
                "n_segments": len(self.seg_song),
                "format": FORMAT,
            }
            (folder / "ids.json").write_text(json.dumps(meta))
            set_current(self.index_dir, folder.name)
        prune(self.index_dir, "v", keep)
        return folder

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, song_id: object) -> bool:
        return song_id in self.row_of

    def add(self, song_id: str, chroma: np.ndarray, melody: np.ndarray | None = None) -> None:
        """Embed a song's chroma ``(n, 12)`` and add its segments, with its melody chroma ``(n', 12)`` when the
        model reads melody lines (a song already here is left alone)."""
        if song_id in self.row_of or len(chroma) == 0:
            return
        self.insert(song_id, self.embedder.passages(chroma, melody))

    def insert(self, song_id: str, p: Passages) -> None:
        """Add a song's :class:`Passages` (computed by this index's embedder; a song already here is left
        alone)."""
        vecs, starts, aligned = p.segments, p.starts, p.aligned
        with self._lock:
            if song_id in self.row_of or len(vecs) == 0:
                return
            row = len(self.ids)
            self.first.append(len(self.seg_song))
            self.ids.append(song_id)
            self.row_of[song_id] = row
            self._seg_song.extend(np.full(len(vecs), row, np.int32))
            self._seg_start.extend(starts)
            self._vectors.extend(vecs)
            self.aligned.append(aligned.astype(np.float16))
            self._background.extend(p.background[None].astype(np.float32))
            self.melody.append(p.melody.astype(np.float16))
            self._melody_background.extend(p.melody_background[None].astype(np.float32))
            self.faiss.add(vecs)
            self._unsaved += 1

    def add_audio(self, song_id: str, y: np.ndarray, sr: int) -> None:
        """:meth:`add` for mono audio ``y`` (the model's own chroma)."""
        if song_id not in self.row_of:
            self.add(song_id, self.embedder.features(y, sr), self.embedder.melody_chroma(y, sr))

    def passages_of(self, song_id: str) -> Passages:
        """An indexed song's :class:`Passages` (KeyError when it is not)."""
        with self._lock:
            return self._passages(self.row_of[song_id])

    def _passages(self, row: int) -> Passages:
        a = self.first[row]
        b = self.first[row + 1] if row + 1 < len(self.first) else len(self.seg_song)
        return Passages(
            self.vectors[a:b],
            self.seg_start[a:b],
            self.aligned[row].astype(np.float32),
            self.background[row],
            self.melody[row].astype(np.float32),
            self._melody_background.array[row],
        )

    def match(
        self,
        query: Passages,
        n: int = 10,
        threshold: float = THRESHOLD,
        exclude: str | None = None,
        symmetric: bool = False,
    ) -> list[VersionMatch]:
        """Songs playing the music of the ``query`` (:meth:`VersionEmbedder.passages` of a recording or clip).

        ``symmetric``: the query is a whole song, judged both ways; else a clip, judged by how well it is found.
        """
        vectors, starts = query.segments, query.starts
        with self._lock:
            if len(self.seg_song) == 0 or len(vectors) == 0:
                return []
            # A clip has one or two segments: it looks further than a song's dozens, for the same candidates.
            k = min(max(NEIGHBOURS, SEARCH_ROWS // len(vectors)), len(self.seg_song))
            scores, rows = vindex.search(self.faiss, vectors.astype(np.float32), k)
            seg_song, seg_start, ids = self.seg_song, self.seg_start, self.ids
        best: dict[int, tuple[float, float, float]] = {}  # song row -> (score, query start, song start)
        found_by: dict[int, set[int]] = {}
        skip = self.row_of.get(exclude) if exclude is not None else None
        for q in range(len(vectors)):
            for score, row in zip(scores[q], rows[q], strict=True):
                if row < 0:
                    continue
                song = int(seg_song[row])
                if song == skip:
                    continue
                found_by.setdefault(song, set()).add(q)
                if song not in best or score > best[song][0]:
                    best[song] = (float(score), float(starts[q]), float(seg_start[row]))
        # The songs judged: those found by most query passages, then by the closest passage.
        judged = sorted(best, key=lambda s: (-len(found_by[s]), -best[s][0]))[:CANDIDATES]
        out = []
        for song in judged:
            _, qs, ss = best[song]
            with self._lock:
                other = self._passages(song)
            score = version_score(query, other, symmetric)
            if score < threshold:
                continue
            out.append(
                VersionMatch(
                    song_id=ids[song],
                    score=round(score, 4),
                    coverage=round(len(found_by[song]) / len(vectors), 3),
                    query_start=round(qs, 2),
                    song_start=round(ss, 2),
                )
            )
        out.sort(key=lambda m: (-m.score, -m.coverage))
        return out[:n]

    def match_chroma(
        self, chroma: np.ndarray, n: int = 10, threshold: float = THRESHOLD, melody: np.ndarray | None = None
    ) -> list[VersionMatch]:
        """Songs that play the music of a clip or recording (its chroma ``(n, 12)``: the model's features; its
        melody chroma when the model reads melody lines)."""
        return self.match(self.embedder.passages(chroma, melody), n=n, threshold=threshold)

    def versions_of(self, song_id: str, n: int = 10, threshold: float = THRESHOLD) -> list[VersionMatch]:
        """Other songs that may be versions of ``song_id`` (KeyError when it is not indexed)."""
        query = self.passages_of(song_id)
        return self.match(query, n=n, threshold=threshold, exclude=song_id, symmetric=True)


def recording_passages(
    embedder: VersionEmbedder, song_id: str, meta: dict[str, object], folders: object
) -> tuple[str, Passages | str]:
    """``(song_id, its Passages)`` of an indexed song's recording (its ``meta`` in the sound index, found in
    ``folders``): the model's chroma and, with a melody-line model, its melody line; or ``(song_id, why not)``."""
    from audio_service.core.decode import AudioDecodeError
    from audio_service.core.recordings import Folders, NoRecordingError, load_recording

    assert isinstance(folders, Folders)
    try:
        y, sr = load_recording(song_id, dict(meta), folders)
    except (NoRecordingError, AudioDecodeError) as exc:
        return song_id, f"{type(exc).__name__}: {exc}"[:200]
    # Rounded through float16, as the sync has always passed them on: a rebuilt index equals the one it replaces.
    chroma = embedder.features(y, sr).astype(np.float16).astype(np.float32)
    if len(chroma) == 0:
        return song_id, "no audio frames"
    melody = None
    if embedder.melody is not None:
        from audio_service.core.melody_line import spectrum

        melody = embedder.melody_of_spectrum(spectrum(y, sr).astype(np.float16).astype(np.float32))
    return song_id, embedder.passages(chroma, melody)


def add_recordings(
    versions: VersionIndex,
    metadata: dict[str, dict[str, object]],
    folders: object,
    *,
    workers: int = 1,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> dict[str, object]:
    """Add every song of ``metadata`` (the sound index's) that the version index lacks; a summary.

    ``workers`` threads each take a whole song (decode, chroma, melody line, segment vectors, the ~500
    alignments of its backgrounds): the heavy parts (audio decoding and transforms, TensorFlow, BLAS, the Qmax
    kernel) release the GIL, and threads, unlike forked processes, are safe in a service that runs TensorFlow.
    Songs are inserted in ``metadata``'s order whatever order they finish in, so the index is the same for any
    ``workers``. Run BLAS at one thread per call meanwhile (audio_service does: ``AUDIO_BLAS_THREADS``): its own
    threads would spin beside the workers' (on 2 cores they doubled the CPU time of the chroma, for nothing)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from musicrec_common.progress import tqdm

    todo = [sid for sid in metadata if sid not in versions]
    failed: dict[str, str] = {}
    added = 0

    def work(song_id: str) -> tuple[str, Passages | str]:
        return recording_passages(versions.embedder, song_id, metadata[song_id], folders)

    executor = ThreadPoolExecutor(max(1, workers), thread_name_prefix="versions-add")
    # A window of submitted songs, not all of them: a stop is heard within a few songs and memory stays bounded.
    window = 4 * max(1, workers)
    try:
        pending = deque(executor.submit(work, item) for item in todo[:window])
        queued = len(pending)
        for _ in tqdm(range(len(todo)), desc="versions index", unit="song", disable=not progress):
            if stop is not None and stop.is_set():
                break
            song_id, p = pending.popleft().result()
            if queued < len(todo):
                pending.append(executor.submit(work, todo[queued]))
                queued += 1
            if isinstance(p, str):
                failed[song_id] = p
            else:
                versions.insert(song_id, p)
                added += 1
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return {"added": added, "failed": len(failed), "songs": len(versions), "errors": failed}
