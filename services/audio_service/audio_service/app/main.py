"""audio_service's FastAPI application (thin HTTP layer over :mod:`audio_service.core`).

Heavy work (decoding, TensorFlow inference, FAISS) runs in the thread pool, one
request at a time per kind, so the event loop keeps answering health checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Form, Header, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline
from musicrec_common.schemas import (
    AddSongResponse,
    AnalysisError,
    AudioSimilarResponse,
    ClipMatch,
    ClipQueryResponse,
    ComparePassage,
    CompareResponse,
    HealthResponse,
    HumMatchItem,
    HumResponse,
    LibraryAnalyzeRequest,
    LibraryAnalyzeResponse,
    LibraryStatusResponse,
    MapPoint,
    MapResponse,
    MatchSegment,
    RejectedFile,
    SimilarSong,
    SonicPathRequest,
    SonicPathResponse,
    VersionItem,
    VersionsResponse,
)
from musicrec_common.web import ApiError, install_error_handlers, require_bearer

from audio_service import __version__
from audio_service.app.settings import Settings, get_settings

log = logging.getLogger("audio_service")
N = Annotated[int, Query(ge=1, le=500, description="List length, 1-500")]

# Decode errors -> (status, code); the message comes from the exception.
ERRORS: dict[str, tuple[int, str]] = {
    "EmptyAudioError": (422, "empty_audio"),
    "AudioTooLargeError": (413, "payload_too_large"),
    "AudioTooLongError": (422, "audio_too_long"),
    "AudioTooShortError": (422, "audio_too_short"),
    "CorruptAudioError": (415, "bad_audio"),
    "UnsupportedSampleRateError": (422, "bad_sample_rate"),
    "SilentAudioError": (422, "silent_audio"),
}


def _decode_error(exc: Exception) -> ApiError:
    status, code = ERRORS.get(type(exc).__name__, (422, "bad_audio"))
    return ApiError(status, str(exc) or code, code=code, details=[{"field": "file"}])


class Engine:
    """The loaded search facade, or why there is none."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.search: Any = None  # audio_service.core.search.AudioSearch
        self.analyzer: Any = None  # audio_service.core.library.LibraryAnalyzer, once a model is loaded
        self.error: str | None = None
        self.lock = asyncio.Lock()  # TF inference and index writes, one at a time
        self.compare_slots = threading.BoundedSemaphore(2)  # comparisons are CPU-bound: two at a time
        self._chroma: Any = None  # audio_service.core.recordings.FeatureCache of chroma sequences by song id
        self.versions: Any = None  # audio_service.core.version_index.VersionIndex, when a version model ships
        self._versions_sync: threading.Thread | None = None
        self._stop_sync = threading.Event()
        self._melodies: Any = None  # audio_service.core.melody.MelodyIndex, read on the first hum
        self._melodies_stamp: float | None = None

    def load(self) -> None:
        try:
            from audio_service.core.decode import DecodeLimits
            from audio_service.core.search import AudioSearch

            limits = DecodeLimits(
                max_bytes=int(self.settings.max_upload_mb * 1024 * 1024), max_duration_s=self.settings.max_duration_s
            )
            self.search = AudioSearch.load(self.settings.model_dir, self.settings.index_dir, create=True, limits=limits)
            self.error = None
        except Exception as exc:  # no model yet, or a broken artifact: stay up and say so
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("audio model not loaded: %s", self.error)
            return
        self.load_versions()
        if self.analyzer is None:
            from audio_service.core.library import LibraryAnalyzer

            self.analyzer = LibraryAnalyzer(
                self.search,
                self.settings.music_dir,
                limits=DecodeLimits(max_bytes=1 << 30, max_duration_s=self.settings.library_max_duration_s),
            )
            self.analyzer.start()
        else:
            self.analyzer.attach(self.search)
        self.analyzer.versions = self.versions

    def load_versions(self) -> None:
        """Load the version model and its index; passages of songs it lacks are added in the background."""
        from audio_service.core.version_index import VersionIndex

        if self._versions_sync is not None:  # a reload: the previous sync stops first (it saved what it had)
            self._stop_sync.set()
            self._versions_sync.join(60)
        model = self.settings.version_model
        if not (model / "model.keras").exists() and not (model / "current").exists():
            log.warning("no version model in %s: possible versions are off", model)
            return
        try:
            self.versions = VersionIndex.load(model, self.settings.version_index_dir)
        except Exception as exc:  # a broken artifact: the rest of the service stays up
            log.warning("version model not loaded: %s: %s", type(exc).__name__, exc)
            self.versions = None
            return
        self._stop_sync.clear()
        self._versions_sync = threading.Thread(target=self._sync_versions, name="versions-sync", daemon=True)
        self._versions_sync.start()

    def _sync_versions(self) -> None:
        from audio_service.core.version_index import add_recordings

        versions, search = self.versions, self.search
        if versions is None or search is None:
            return
        try:
            threads = self.settings.version_sync_threads or os.cpu_count() or 1
            summary = add_recordings(
                versions, dict(search.metadata), self.folders(), workers=threads, progress=False, stop=self._stop_sync
            )
            if summary["added"]:
                versions.save()
            log.info(
                "version index: %s songs (%s added, %s without a readable recording)",
                summary["songs"],
                summary["added"],
                summary["failed"],
            )
        except Exception:
            log.exception("version index sync failed")

    def folders(self) -> Any:
        from audio_service.core.recordings import Folders

        s = self.settings
        return Folders(catalog=s.catalog_dir, uploads=s.uploads_dir, music=s.music_dir)

    def song_chroma(self, song_id: str) -> Any:
        """``(n_frames, 12)`` chroma of an indexed song's whole recording (cached); ApiError 404 when unknown."""
        from audio_service.core.compare import chroma_sequence
        from audio_service.core.recordings import FeatureCache, NoRecordingError, load_recording

        search = self.require()
        if song_id not in search.row_of:
            raise ApiError(404, f"song {song_id!r} is not in the audio index", code="unknown_song")

        def compute(sid: str) -> Any:
            # The index of now: after a reload, self.search is another object than the first call's.
            meta = self.require().metadata.get(sid, {})
            y, sr = load_recording(sid, meta, self.folders(), self.settings.library_max_duration_s)
            return chroma_sequence(y, sr)

        if self._chroma is None:
            self._chroma = FeatureCache(compute)
        try:
            return self._chroma.get(song_id)
        except NoRecordingError as exc:
            raise ApiError(404, f"the recording of {song_id!r} cannot be read here", code="no_recording") from exc

    def melody_index(self) -> Any:
        """The catalog's melodies (``CATALOG/melodies.npz``, from `build-melodies`), re-read when rebuilt."""
        from audio_service.core.melody import MelodyIndex

        path = self.settings.catalog_dir / "melodies.npz"
        try:
            stamp = path.stat().st_mtime
        except FileNotFoundError:
            raise ApiError(
                503, "no melodies yet: run `python -m audio_service build-melodies`", code="model_unavailable"
            ) from None
        if self._melodies is None or stamp != self._melodies_stamp:
            with np.load(path, allow_pickle=False) as z:
                self._melodies = MelodyIndex({k: z[k] for k in z.files})
            self._melodies_stamp = stamp
        return self._melodies

    def hum(self, data: bytes, n: int) -> HumResponse:
        """Songs whose melody the uploaded query hums (blocking: run it in a worker)."""
        from audio_service.core.decode import load_audio
        from audio_service.core.melody import FRAME_S, HUM_SR, pitch_contour

        search = self.require()
        index = self.melody_index()
        with self.compare_slots:
            y, sr = load_audio(data, target_sr=HUM_SR, limits=search.limits)
            query = pitch_contour(y, sr)
            matches = index.search(query, n=n)
        return HumResponse(
            n_melodies=len(index),
            sung_s=round(float(np.isfinite(query).sum()) * FRAME_S, 2),
            items=[
                HumMatchItem(
                    song_id=m.song_id,
                    score=m.score,
                    song_start=m.song_start,
                    song_end=m.song_end,
                    transpose_semitones=m.transpose,
                    tempo_ratio=m.tempo_ratio,
                )
                for m in matches
            ],
        )

    def compare(self, a: str | bytes, b: str | bytes) -> CompareResponse:
        """Compare two sides, each a song id or an uploaded clip's bytes (blocking: run it in a worker)."""
        from audio_service.core.compare import FRAME_S, chroma_sequence
        from audio_service.core.compare import compare as compare_chroma
        from audio_service.core.decode import load_audio

        search = self.require()
        with self.compare_slots:
            seqs = []
            for side in (a, b):
                if isinstance(side, str):
                    seqs.append(self.song_chroma(side))
                else:
                    y, sr = load_audio(side, limits=search.limits)
                    seqs.append(chroma_sequence(y, sr))
            result = compare_chroma(seqs[0], seqs[1])
        return CompareResponse(
            similarity=round(result.similarity, 4),
            threshold=result.threshold,
            transpose_semitones=result.transpose_semitones,
            tempo_ratio=result.tempo_ratio,
            a_duration_s=round(len(seqs[0]) * FRAME_S, 2),
            b_duration_s=round(len(seqs[1]) * FRAME_S, 2),
            passages=[ComparePassage(**vars(p)) for p in result.passages],
            matrix=[[round(float(v), 3) for v in row] for row in result.matrix.clip(0, 1)],
        )

    def close(self) -> None:
        self._stop_sync.set()
        if self._versions_sync is not None:
            self._versions_sync.join(30)
        if self.analyzer is not None:
            self.analyzer.stop()

    def require(self) -> Any:
        if self.search is None:
            raise ApiError(503, f"audio model not available ({self.error})", code="model_unavailable")
        return self.search


async def _read_upload(request: Request, file: UploadFile, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise ApiError(413, f"upload larger than {limit // (1024 * 1024)} MB", code="payload_too_large")
    data = await file.read(limit + 1)  # never more than the limit in memory
    if len(data) > limit:
        raise ApiError(413, f"upload larger than {limit // (1024 * 1024)} MB", code="payload_too_large")
    if not data:
        raise ApiError(422, "the uploaded file is empty", code="empty_audio", details=[{"field": "file"}])
    return data


def limit_blas_threads(threads: int) -> None:
    """numpy's and scipy's BLAS (each its own OpenBLAS, loaded here first so that the limit reaches both) at
    ``threads`` per call. The service's products are small (a version search's ~400 alignments of ~100 x 84 rows)
    and run beside each other (requests, the version index sync), where OpenBLAS's own threads only spin: with 4
    clients at once GET /versions took 1.5 s at p50 with 2 BLAS threads, 1.07 s with one (bench/RESULTS.md). FAISS
    keeps its own (OpenMP) threads."""
    import scipy.linalg  # noqa: F401  # scipy's copy (librosa's transforms load it)
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().select(prefix="libscipy_openblas").limit(limits=threads)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = Engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_blas_threads(settings.blas_threads)
        await run_in_threadpool(engine.load)
        yield
        await run_in_threadpool(engine.close)

    app = FastAPIOffline(  # docs pages without a CDN: the product runs offline
        title="Music recommendations: audio_service",
        version=__version__,
        lifespan=lifespan,
        description="Songs that sound alike: log-mel spectrograms, a Keras CNN and FAISS.",
    )
    app.state.engine = engine
    install_error_handlers(app)
    limit = int(settings.max_upload_mb * 1024 * 1024)

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def health() -> HealthResponse:
        """Model version and index size."""
        if engine.search is None:
            return HealthResponse(
                service="audio_service",
                version=__version__,
                status="degraded",
                info={"model_version": None, "index_size": 0, "error": engine.error},
            )
        info = engine.search.info()
        details: dict[str, object] = {
            "model_version": info.get("model_version"),
            "index_size": info.get("n_songs"),
            "patches": info.get("n_patches"),
            "index": info.get("track_index"),
        }
        if engine.analyzer is not None:  # the music folder's analysis, for the gateway's progress banner
            st = engine.analyzer.status()
            details["library"] = {
                "queued": st.queued,
                "running": st.running is not None,
                "done": st.done,
                "failed": st.failed,
                "eta_s": st.eta_s,
            }
        return HealthResponse(service="audio_service", version=__version__, status="ok", info=details)

    @app.get("/similar/{song_id}", response_model=AudioSimilarResponse, tags=["search"])
    async def similar(song_id: Annotated[str, Path(min_length=1, max_length=128)], n: N = 10) -> AudioSimilarResponse:
        """Songs that sound like this one (cosine of CNN track embeddings)."""
        from audio_service.core.search import UnknownSongError

        search = engine.require()
        try:
            pairs = await run_in_threadpool(search.similar, song_id, n)
        except UnknownSongError as exc:
            raise ApiError(404, f"song {song_id!r} is not in the audio index", code="unknown_song") from exc
        return AudioSimilarResponse(
            song_id=song_id,
            model_version=search.embedder.version,
            items=[SimilarSong(song_id=s, score=round(sc, 5), rank=r) for r, (s, sc) in enumerate(pairs, 1)],
        )

    @app.post("/path", response_model=SonicPathResponse, tags=["search"])
    async def sonic_path(body: SonicPathRequest) -> SonicPathResponse:
        """Songs from ``start`` to ``end`` in small steps of sound (no song twice), each with its similarity to
        ``start``; only songs of ``within`` in between when it is given."""
        from audio_service.core.search import UnknownSongError

        search = engine.require()
        try:
            pairs = await run_in_threadpool(search.path, body.start, body.end, body.n, body.within)
        except UnknownSongError as exc:
            raise ApiError(404, f"song {exc.args[0]!r} is not in the audio index", code="unknown_song") from exc
        return SonicPathResponse(
            model_version=search.embedder.version,
            items=[SimilarSong(song_id=s, score=round(sc, 5), rank=r) for r, (s, sc) in enumerate(pairs, 1)],
        )

    @app.post("/query", response_model=ClipQueryResponse, tags=["search"])
    async def query(
        request: Request, file: UploadFile, n: Annotated[int, Query(ge=1, le=50)] = 10
    ) -> ClipQueryResponse:
        """Songs matching an uploaded clip, each with the best-matching segment pairs."""
        from audio_service.core.decode import AudioDecodeError

        search = engine.require()
        data = await _read_upload(request, file, limit)
        async with engine.lock:
            try:
                matches = await run_in_threadpool(search.query_clip, data, n)
            except AudioDecodeError as exc:
                raise _decode_error(exc) from exc
        return ClipQueryResponse(
            model_version=search.embedder.version,
            items=[
                ClipMatch(
                    song_id=m.song_id,
                    score=m.score,
                    segments=[
                        MatchSegment(
                            query_start=round(s.clip_start, 2),
                            query_end=round(s.clip_end, 2),
                            song_start=round(s.song_start, 2),
                            song_end=round(s.song_end, 2),
                            score=round(s.score, 4),
                        )
                        for s in m.segments
                    ],
                )
                for m in matches
            ],
        )

    @app.post("/compare", response_model=CompareResponse, tags=["search"])
    async def compare(
        request: Request,
        a: Annotated[str | None, Form(min_length=1, max_length=128, description="An indexed song")] = None,
        b: Annotated[str | None, Form(min_length=1, max_length=128, description="An indexed song")] = None,
        file_a: UploadFile | None = None,
        file_b: UploadFile | None = None,
    ) -> CompareResponse:
        """What two recordings share: the key and tempo between them, the passages that match, the picture.

        Each side is an indexed song (`a`, `b`) or an uploaded clip (`file_a`, `file_b`), exactly one per side.
        """
        from audio_service.core.decode import AudioDecodeError

        engine.require()
        sides = []
        for name, song_id, upload in (("a", a, file_a), ("b", b, file_b)):
            if (song_id is None) == (upload is None):
                raise ApiError(
                    422,
                    f"give exactly one of {name} (a song) or file_{name} (a clip)",
                    code="bad_request",
                    details=[{"field": name}],
                )
            sides.append(song_id if song_id is not None else await _read_upload(request, upload, limit))  # type: ignore[arg-type]
        try:
            result = await run_in_threadpool(engine.compare, sides[0], sides[1])
        except AudioDecodeError as exc:
            raise _decode_error(exc) from exc
        return result

    @app.get("/versions/{song_id}", response_model=VersionsResponse, tags=["search"])
    async def versions_of(
        song_id: Annotated[str, Path(min_length=1, max_length=128)],
        n: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> VersionsResponse:
        """Songs that may be versions of this one (or borrow a passage from it): the same music in another key,
        tempo or instrumentation, by the version model; only those above the threshold."""
        from audio_service.core.version_index import THRESHOLD

        search = engine.require()
        if song_id not in search.row_of:
            raise ApiError(404, f"song {song_id!r} is not in the audio index", code="unknown_song")
        versions = engine.versions
        if versions is None:
            raise ApiError(503, "no version model: possible versions are off", code="model_unavailable")
        if song_id not in versions:
            return VersionsResponse(
                song_id=song_id, model_version=versions.embedder.version, threshold=THRESHOLD, ready=False, items=[]
            )
        matches = await run_in_threadpool(versions.versions_of, song_id, n)
        return VersionsResponse(
            song_id=song_id,
            model_version=versions.embedder.version,
            threshold=THRESHOLD,
            ready=True,
            items=[VersionItem(**vars(m)) for m in matches],
        )

    @app.post("/hum", response_model=HumResponse, tags=["search"])
    async def hum(request: Request, file: UploadFile, n: Annotated[int, Query(ge=1, le=50)] = 10) -> HumResponse:
        """Songs whose melody an uploaded hummed, sung or whistled query follows, in any key and at any tempo
        from 0.7x to 1.45x, with the matched passage. A query with under 2 s of clear pitch finds nothing."""
        from audio_service.core.decode import AudioDecodeError

        engine.require()
        data = await _read_upload(request, file, limit)
        try:
            return await run_in_threadpool(engine.hum, data, n)
        except AudioDecodeError as exc:
            raise _decode_error(exc) from exc

    @app.post("/songs", status_code=201, response_model=AddSongResponse, tags=["index"])
    async def add_song(
        request: Request,
        file: UploadFile,
        song_id: Annotated[str | None, Form(max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
        title: Annotated[str | None, Form(max_length=300)] = None,
        artist: Annotated[str | None, Form(max_length=300)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> AddSongResponse:
        """Embed and index a new song without retraining (cold start); the audio is kept for streaming.

        Needs the admin bearer token (AUDIO_ADMIN_TOKEN) when one is set.
        """
        from audio_service.core.decode import AudioDecodeError

        require_bearer(authorization, settings.admin_token)

        search = engine.require()
        data = await _read_upload(request, file, limit)
        meta = {
            k: v for k, v in {"id": song_id, "title": title, "artist": artist, "collection": "uploads"}.items() if v
        }
        async with engine.lock:
            try:
                new_id = await run_in_threadpool(search.add_song, data, meta)
            except AudioDecodeError as exc:
                raise _decode_error(exc) from exc
            suffix = re.sub(r"[^a-z0-9]", "", (file.filename or "").rsplit(".", 1)[-1].lower())[:5] or "bin"
            path = settings.uploads_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', new_id)}.{suffix}"
            await run_in_threadpool(_persist, search, path, data)
            if engine.versions is not None:
                await run_in_threadpool(_add_version, engine.versions, new_id, data, search.limits)
        return AddSongResponse(song_id=new_id, audio_path=str(path), index_size=len(search))

    @app.post("/admin/reload", response_model=HealthResponse, tags=["admin"])
    async def reload(authorization: Annotated[str | None, Header()] = None) -> HealthResponse:
        """Load the current model and index again (after `train` / `index`), then report health.

        Needs the admin bearer token (AUDIO_ADMIN_TOKEN) when one is set.
        """
        require_bearer(authorization, settings.admin_token)
        async with engine.lock:
            await run_in_threadpool(engine.load)
        return await health()

    @app.post("/library/analyze", status_code=202, response_model=LibraryAnalyzeResponse, tags=["library"])
    async def library_analyze(
        body: LibraryAnalyzeRequest, authorization: Annotated[str | None, Header()] = None
    ) -> LibraryAnalyzeResponse:
        """Queue files of the music folder for sound analysis (whole songs, in the background).

        Ids already indexed or queued are skipped, so the same library can be sent again at any time.
        Files outside `MUSIC_DIR` are refused. Needs the admin bearer token (AUDIO_ADMIN_TOKEN) when one is set.
        """
        from audio_service.core.library import LibraryItem

        require_bearer(authorization, settings.admin_token)
        engine.require()
        items = [LibraryItem(i.audio_id, i.path, i.title, i.artist) for i in body.items]
        queued, already, rejected = await run_in_threadpool(engine.analyzer.submit, items)
        return LibraryAnalyzeResponse(
            queued=queued, already=already, rejected=[RejectedFile(audio_id=a, reason=r) for a, r in rejected]
        )

    @app.get("/library/status", response_model=LibraryStatusResponse, tags=["library"])
    async def library_status() -> LibraryStatusResponse:
        """The background analysis: queued, running, done, failed, songs per minute, time left."""
        engine.require()
        st = engine.analyzer.status()
        return LibraryStatusResponse(
            enabled=settings.music_dir is not None,
            queued=st.queued,
            running=st.running,
            done=st.done,
            failed=st.failed,
            indexed=st.indexed,
            songs_per_minute=st.songs_per_minute,
            eta_s=st.eta_s,
            errors=[AnalysisError(audio_id=a, reason=r) for a, r in st.errors],
        )

    @app.get("/map", response_model=MapResponse, tags=["search"])
    async def catalog_map() -> MapResponse:
        """2-D projection of every indexed song's embedding.

        The catalog's points are written by `python -m audio_service evaluate` (PCA); songs indexed since
        (library files, uploads) are placed with the same linear projection, fitted to those points.
        """
        from audio_service.core.projection import extend_map

        path = settings.map_file
        if not path.exists():
            raise ApiError(404, "no map yet: run `python -m audio_service evaluate`", code="no_map")
        points = await run_in_threadpool(lambda: json.loads(path.read_text()))
        if engine.search is not None:
            points = await run_in_threadpool(extend_map, points, engine.search)
        return MapResponse(
            points=[MapPoint(song_id=p["id"], x=p["x"], y=p["y"], collection=p.get("collection")) for p in points]
        )

    return app


def _add_version(versions: Any, song_id: str, data: bytes, limits: Any) -> None:
    """An uploaded song's passages for "possible versions" (the upload stands without them)."""
    from audio_service.core.decode import load_audio

    try:
        y, sr = load_audio(data, limits=limits)
        versions.add_audio(song_id, y, sr)
        versions.save()
    except Exception:
        log.exception("version embedding of upload %s failed", song_id)


def _persist(search: Any, path: Any, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    search.save()
