"""Query core used by the HTTP layer: :class:`AudioSearch`.

Two FAISS stores over the same songs: one track vector per song (``similar``) and one vector per
≈3 s patch (hop 0.37 s) for clip identification and segment pairs (``query_clip``). Reads take a
shared lock and may run concurrently; ``add_song``/``save`` take it exclusively.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from musicrec_common.versions import KEEP_VERSIONS

from audio_service.core import index as vindex
from audio_service.core.artifacts import current_dir, new_version_dir, prune, set_current
from audio_service.core.decode import AudioSource, DecodeLimits, list_audio_files, load_audio, read_bytes
from audio_service.core.embed import Embedder, TrackEmbedding, l2_normalize
from audio_service.core.features import PATCH_FRAMES, SR, log_mel, make_patches
from audio_service.core.matching import SongMatch, merge_segments, vote

# A clip is also tried as if played 8 % slower and faster (a phone recording a player that runs fast or slow):
# on held-out songs played 10 % off speed, top-1 went from 0.840 to 0.994 at 1.5x the query time (bench/RESULTS.md).
QUERY_SPEEDS = (0.92, 1.0, 1.08)


class UnknownSongError(KeyError):
    """``song_id`` is not in the index."""


class _RWLock:
    """Many readers or one writer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class AudioSearch:
    """Facade: ``similar``, ``query_clip``, ``add_song`` over a model and its FAISS indexes."""

    def __init__(
        self,
        embedder: Embedder,
        index_dir: str | os.PathLike[str],
        *,
        limits: DecodeLimits | None = None,
        hnsw_threshold: int = vindex.DEFAULT_HNSW_THRESHOLD,
    ) -> None:
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.limits = limits or DecodeLimits()
        self.hnsw_threshold = hnsw_threshold
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        self.tracks = vindex.make_index(embedder.dim, np.zeros((0, embedder.dim), np.float32), hnsw_threshold)
        self.patches = vindex.make_index(embedder.dim, np.zeros((0, embedder.dim), np.float32), hnsw_threshold)
        self.patch_song = np.zeros(0, np.int32)
        self.patch_start = np.zeros(0, np.float32)
        self._lock = _RWLock()
        self._save_lock = threading.Lock()  # the HTTP layer and the library worker both save

    # ---------------------------------------------------------------- persistence
    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike[str],
        index_dir: str | os.PathLike[str],
        *,
        create: bool = False,
        limits: DecodeLimits | None = None,
        hnsw_threshold: int = vindex.DEFAULT_HNSW_THRESHOLD,
    ) -> AudioSearch:
        """Load the current model and index; ``create=True`` starts empty when there is no index yet."""
        self = cls(Embedder.load(model_dir), index_dir, limits=limits, hnsw_threshold=hnsw_threshold)
        try:
            folder = current_dir(index_dir)
        except FileNotFoundError:
            if create:
                return self
            raise
        info = json.loads((folder / "info.json").read_text())
        if info.get("model_version") not in (None, self.embedder.version):
            raise ValueError(
                f"index {folder} was built with model {info['model_version']}, not {self.embedder.version}"
            )
        self.tracks = vindex.load_index(folder / "tracks.faiss")
        self.patches = vindex.load_index(folder / "patches.faiss")
        with np.load(folder / "tracks.npz", allow_pickle=False) as z:
            self.ids = [str(i) for i in z["ids"]]
        with np.load(folder / "patches.npz", allow_pickle=False) as z:
            self.patch_song = z["song"].astype(np.int32)
            self.patch_start = z["start"].astype(np.float32)
        self.metadata = json.loads((folder / "metadata.json").read_text())
        self.row_of = {sid: i for i, sid in enumerate(self.ids)}
        return self

    def save(self, keep: int = KEEP_VERSIONS) -> Path:
        """Write a new index version, switch ``INDEX_DIR/current`` to it atomically, keep the newest ``keep``."""
        with self._save_lock, self._lock.read():
            folder = new_version_dir(self.index_dir, prefix="i")
            vindex.save_index(self.tracks, folder / "tracks.faiss")
            vindex.save_index(self.patches, folder / "patches.faiss")
            np.savez(folder / "tracks.npz", ids=np.array(self.ids, dtype=str))
            np.savez(folder / "patches.npz", song=self.patch_song, start=self.patch_start)
            (folder / "metadata.json").write_text(json.dumps(self.metadata))
            (folder / "info.json").write_text(json.dumps(self.info()))
            set_current(self.index_dir, folder.name)
            prune(self.index_dir, "i", keep)
        return folder

    def info(self) -> dict[str, Any]:
        return {
            "model_version": self.embedder.version,
            "n_songs": len(self.ids),
            "n_patches": int(self.patches.ntotal),
            "track_index": vindex.index_kind(self.tracks),
            "patch_index": vindex.index_kind(self.patches),
        }

    def __len__(self) -> int:
        return len(self.ids)

    # ---------------------------------------------------------------- writes
    def add_embedding(self, song_id: str, emb: TrackEmbedding, metadata: dict[str, Any]) -> None:
        """Add a pre-computed embedding (no-op for an id already indexed)."""
        with self._lock.write():
            if song_id in self.row_of:
                return
            row = len(self.ids)
            self.tracks = vindex.add_vectors(self.tracks, emb.track[None, :], self.hnsw_threshold)
            self.patches = vindex.add_vectors(self.patches, emb.patches, self.hnsw_threshold)
            self.patch_song = np.concatenate([self.patch_song, np.full(len(emb.patches), row, np.int32)])
            self.patch_start = np.concatenate([self.patch_start, emb.starts.astype(np.float32)])
            self.ids.append(song_id)
            self.row_of[song_id] = row
            self.metadata[song_id] = dict(metadata)

    def add_song(self, source: AudioSource, metadata: dict[str, Any] | None = None) -> str:
        """Decode, embed and index one song without retraining; returns its id.

        The id is ``metadata["id"]`` or ``upload-<sha1 of the bytes>`` (re-adding the same file is a no-op).
        """
        data = read_bytes(source, self.limits)
        meta = dict(metadata or {})
        song_id = str(meta.get("id") or "upload-" + hashlib.sha1(data).hexdigest()[:16])
        with self._lock.read():
            if song_id in self.row_of:
                return song_id
        from audio_service.core.decode import decode_bytes

        y, _ = decode_bytes(data, self.limits, SR)
        meta.setdefault("duration_s", round(len(y) / SR, 3))
        meta["id"] = song_id
        self.add_embedding(song_id, self.embedder.embed_track(y), meta)
        return song_id

    def add_folder(self, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Index every audio file under ``folder``; bad files are skipped and reported."""
        from audio_service.core.decode import AudioDecodeError

        added, failed = [], {}
        for path in list_audio_files(folder):
            meta: dict[str, Any] = {"title": path.stem, "collection": "uploads", "source_path": str(path)}
            licence = path.with_suffix(".txt")
            if licence.exists():
                meta["licence"] = licence.read_text(errors="replace")[:2000]
            try:
                added.append(self.add_song(path, meta))
            except AudioDecodeError as exc:
                failed[str(path)] = f"{type(exc).__name__}: {exc}"
        return {"added": added, "failed": failed, "n_songs": len(self.ids)}

    # ---------------------------------------------------------------- reads
    def similar(self, song_id: str, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` songs closest to ``song_id`` (cosine of track embeddings), itself excluded."""
        with self._lock.read():
            if song_id not in self.row_of:
                raise UnknownSongError(song_id)
            vec = self.tracks.reconstruct(self.row_of[song_id])[None, :]
            scores, rows = vindex.search(self.tracks, vec, n + 1)
            out = [
                (self.ids[r], float(s))
                for s, r in zip(scores[0], rows[0], strict=True)
                if r >= 0 and self.ids[r] != song_id
            ]
        return out[:n]

    def path(self, start: str, end: str, n: int, within: list[str] | None = None) -> list[tuple[str, float]]:
        """Songs from ``start`` to ``end`` in small steps of sound (:func:`sonic_path`), each with its cosine
        similarity to ``start``; only songs of ``within`` in between when given (unknown ids there are ignored)."""
        with self._lock.read():
            for song in (start, end):
                if song not in self.row_of:
                    raise UnknownSongError(song)
            vectors = vindex.all_vectors(self.tracks)
            allowed = None
            if within is not None:
                allowed = np.zeros(len(self.ids), bool)
                allowed[[self.row_of[s] for s in within if s in self.row_of]] = True
            rows = sonic_path(vectors, self.row_of[start], self.row_of[end], n, allowed)
            first = vectors[rows[0]]
            return [(self.ids[r], float(vectors[r] @ first)) for r in rows]

    def similar_to_vector(self, vec: np.ndarray, n: int = 10) -> list[tuple[str, float]]:
        """Nearest songs to a track vector ``(D,)``."""
        with self._lock.read():
            scores, rows = vindex.search(self.tracks, l2_normalize(vec[None, :]), n)
            return [(self.ids[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]

    def query_clip(self, source: AudioSource, n: int = 10) -> list[SongMatch]:
        """Songs matching an uploaded clip (path, bytes or stream), best first, with segment pairs."""
        y, _ = load_audio(source, target_sr=SR, limits=self.limits)
        return self.query_waveform(y, n, speeds=QUERY_SPEEDS)

    def query_waveform(
        self,
        y: np.ndarray,
        n: int = 10,
        k_patches: int = 100,
        max_query_patches: int = 64,
        denoise: bool | None = False,
        speeds: tuple[float, ...] = (1.0,),
        off_speed_weight: float = 0.9,
    ) -> list[SongMatch]:
        """Like :meth:`query_clip` for mono float32 audio ``(n_samples,)`` at 22.05 kHz.

        ``speeds``: also try the clip as if it had been played at these speeds (a phone recording a player that
        runs fast or slow): each is undone by resampling, and each song keeps its best score, a score found at
        another speed than 1 weighted by ``off_speed_weight`` (more tries also find more wrong songs).

        The model is trained on noisy query views, so the clip is embedded as it is (``denoise=False``):
        on the held-out evaluation, suppressing the noise floor first lowered top-1 from 0.945 to 0.641,
        and running both passes (``denoise=None``, each song's better score) gave 0.939 at twice the cost.
        """
        if speeds != (1.0,):
            from audio_service.core.degrade import change_speed

            best: dict[str, SongMatch] = {}
            for speed in speeds:
                clip = y if abs(speed - 1.0) < 1e-6 else change_speed(y, 1.0 / speed)
                weight = 1.0 if abs(speed - 1.0) < 1e-6 else off_speed_weight
                for m in self.query_waveform(clip, n, k_patches, max_query_patches, denoise, speeds=(1.0,)):
                    m = SongMatch(m.song_id, round(m.score * weight, 4), m.segments)
                    if m.song_id not in best or m.score > best[m.song_id].score:
                        best[m.song_id] = m
            return sorted(best.values(), key=lambda m: -m.score)[:n]
        if denoise is None:
            merged: dict[str, SongMatch] = {}
            for m in self.query_waveform(y, n, k_patches, max_query_patches, False) + self.query_waveform(
                y, n, k_patches, max_query_patches, True
            ):
                if m.song_id not in merged or m.score > merged[m.song_id].score:
                    merged[m.song_id] = m
            return sorted(merged.values(), key=lambda m: -m.score)[:n]
        mel = log_mel(y, denoise=denoise)
        n_frames = mel.shape[1]
        hop = max(8, int(np.ceil(max(0, n_frames - PATCH_FRAMES) / max(1, max_query_patches - 1))))
        patches, q_starts = make_patches(mel, hop=hop)
        q = self.embedder.embed_patches(patches)
        clip_duration = len(y) / SR
        with self._lock.read():
            if not self.ids:
                return []
            scores, rows = vindex.search(self.patches, q, k_patches)
            votes = vote(q_starts, scores, rows, self.patch_song, self.patch_start)
            ranked = sorted(votes.items(), key=lambda kv: -kv[1][0])[:n]
            out: list[SongMatch] = []
            for row, (score, pairs) in ranked:
                sid = self.ids[row]
                dur = self.metadata.get(sid, {}).get("duration_s")
                segs = merge_segments(pairs, clip_duration, dur, hop * (512 / SR))[:3]
                out.append(SongMatch(sid, round(float(score), 4), segs))
            if len(out) < n:  # too few patch hits (tiny index or odd clip): fill with track-level neighbours
                seen = {m.song_id for m in out}
                floor = min((m.score for m in out), default=1.0)
                track_vec = l2_normalize(q.mean(axis=0)[None, :])
                ts, tr = vindex.search(self.tracks, track_vec, n + len(seen))
                for s, r in zip(ts[0], tr[0], strict=True):
                    if r >= 0 and self.ids[r] not in seen and len(out) < n:
                        out.append(SongMatch(self.ids[r], round(float(s) * floor * 0.5, 4), []))
        return out


def build_index_from_catalog(
    catalog_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    index_dir: str | os.PathLike[str],
    hnsw_threshold: int | None = None,
) -> dict[str, Any]:
    """Embed every catalog song (log-mels cached by training) and write a fresh index version."""
    from musicrec_common.progress import tqdm

    from audio_service.core.catalog import load_catalog
    from audio_service.core.train import catalog_mels

    songs = load_catalog(catalog_dir)
    t0 = time.perf_counter()
    mels = catalog_mels(catalog_dir, songs)
    search = AudioSearch(
        Embedder.load(model_dir), index_dir, hnsw_threshold=hnsw_threshold or vindex.DEFAULT_HNSW_THRESHOLD
    )
    embs: dict[str, TrackEmbedding] = {}
    for s in tqdm(songs, desc="embed", unit="song"):
        embs[s["id"]] = search.embedder.embed_mel(mels[s["id"]].astype(np.float32))
    # bulk build (one FAISS construction, not one per song)
    search.ids = [s["id"] for s in songs]
    search.row_of = {sid: i for i, sid in enumerate(search.ids)}
    search.metadata = {s["id"]: s for s in songs}
    dim = search.embedder.dim
    thr = search.hnsw_threshold
    search.tracks = vindex.make_index(dim, np.stack([embs[i].track for i in search.ids]), thr)
    search.patches = vindex.make_index(dim, np.concatenate([embs[i].patches for i in search.ids]), thr)
    search.patch_song = np.concatenate([np.full(len(embs[i].patches), r, np.int32) for r, i in enumerate(search.ids)])
    search.patch_start = np.concatenate([embs[i].starts for i in search.ids]).astype(np.float32)
    folder = search.save()
    summary = search.info() | {"path": str(folder), "seconds": round(time.perf_counter() - t0, 1)}
    if vindex.index_kind(search.patches) == "hnsw":
        sample = vindex.all_vectors(search.patches)[:: max(1, search.patches.ntotal // 500)]
        summary["patch_recall@10"] = vindex.recall_at_k(search.patches, sample, 10)
    return summary


def sonic_path(vectors: np.ndarray, start: int, end: int, n: int, allowed: np.ndarray | None = None) -> list[int]:
    """A path of at most ``n`` rows from ``start`` to ``end`` in small steps through the embedding.

    Args:
        vectors: ``(N, D)`` L2-normalised track embeddings.
        start, end: rows of the first and last song.
        n: songs in the path, both ends included (≥ 2).
        allowed: ``(N,)`` bool, the rows that may be stepped on (None: all).

    Returns:
        Rows, ``start`` first and ``end`` last, no row twice. Step ``i`` takes the unused allowed row closest to
        the point ``i / (n - 1)`` of the way from ``start`` to ``end`` (linear interpolation, renormalised),
        pulled half-way toward the previous step so that consecutive songs stay close to each other.
    """
    if start == end:
        return [start]
    a, b = vectors[start], vectors[end]
    usable = np.ones(len(vectors), bool) if allowed is None else allowed.astype(bool).copy()
    usable[[start, end]] = False
    path, previous = [start], a
    for i in range(1, max(n, 2) - 1):
        if not usable.any():
            break
        t = i / (n - 1)
        target = l2_normalize(((1 - t) * a + t * b)[None, :])[0]
        target = l2_normalize((0.5 * target + 0.5 * previous)[None, :])[0]
        scores = vectors @ target
        scores[~usable] = -np.inf
        row = int(np.argmax(scores))
        path.append(row)
        usable[row] = False
        previous = vectors[row]
    path.append(end)
    return path
