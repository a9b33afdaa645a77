"""The gateway's FastAPI application (thin HTTP layer)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from musicrec_common.schemas import HealthResponse
from musicrec_common.web import install_error_handlers
from redis import exceptions as redis_exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway import __version__
from gateway.app import health, library_sync
from gateway.app.cache import Cache
from gateway.app.fastpath import CachedRecommendationsFastPath
from gateway.app.guards import ids_in_range
from gateway.app.limits import SharedLimiter
from gateway.app.metrics import Metrics
from gateway.app.middleware import SecurityHeadersMiddleware
from gateway.app.openapi import document_errors
from gateway.app.routes import (
    admin,
    audio,
    auth,
    charts,
    library,
    listenbrainz,
    me,
    mixes,
    playlists,
    radio,
    recommend,
    songs,
    subsonic,
)
from gateway.app.search_service import SearchService
from gateway.app.settings import Settings, get_settings
from gateway.app.state import AppState
from gateway.db.session import make_engine, make_sessionmaker


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway app: health, accounts, catalog, listening, admin; the frontend mounted last at ``/``."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Few worker threads and a short GIL switch interval: with dozens of threads the event loop waits
        # up to 5 ms for the GIL at every hand-off (a convoy), which dominated cached-request latency.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        sys.setswitchinterval(0.0005)
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        timeout = httpx.Timeout(settings.service_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200)) as http:
            cache = aioredis.Redis.from_url(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
                decode_responses=False,
                # from_url() connections never retry: after a Redis restart every pooled connection, now
                # dead, would fail one command (one degraded answer each). One immediate retry on a
                # connection error reconnects instead; a timeout is not retried (a hung Redis costs one).
                retry=Retry(NoBackoff(), 1, supported_errors=(redis_exceptions.ConnectionError,)),
            )
            search = SearchService(engine)
            wrapped = Cache(cache, metrics, settings.redis_timeout_s)
            app.state.app = AppState(
                settings,
                engine,
                make_sessionmaker(engine),
                cache,
                http,
                search,
                SharedLimiter("login", wrapped, settings.login_max_failures, settings.login_window_s),
                metrics,
                wrapped,
                SharedLimiter("audio_query", wrapped, settings.audio_query_limit, settings.audio_query_window_s),
            )
            search.warm_up()
            # Everything built at start-up lives as long as the process: out of the collector's way, so the
            # full collections that serving triggers do not walk it again (they showed as p99 stalls).
            gc.collect()
            gc.freeze()
            sync = asyncio.create_task(
                library_sync.sync_forever(engine, app.state.app.audio, settings.library_sync_s), name="library-sync"
            )
            try:
                yield
            finally:
                sync.cancel()
                await cache.aclose()
                engine.dispose()

    metrics = Metrics()
    app = FastAPIOffline(  # docs pages without a CDN: the product runs offline
        title="Music recommendations: gateway",
        version=__version__,
        lifespan=lifespan,
        description="The product's public JSON API.",
        dependencies=[Depends(ids_in_range)],
    )
    install_error_handlers(app)
    # Innermost: cache hits of the hottest request skip routing (CORS and security headers still wrap them).
    app.add_middleware(CachedRecommendationsFastPath)
    origins = settings.cors_origin_list
    if origins:  # none configured: browsers allow same-origin calls only
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    # Added last, so outermost: CORS preflights and errors get the headers too.
    app.add_middleware(SecurityHeadersMiddleware, production=settings.production)

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def get_health(request: Request) -> HealthResponse:
        """Version and the state of the database, Redis, cf_service and audio_service."""
        return await health.aggregate(request.app.state.app)

    @app.get("/api/health", response_model=HealthResponse, tags=["health"])
    async def get_api_health(request: Request) -> HealthResponse:
        return await health.aggregate(request.app.state.app)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def get_metrics() -> str:
        """Prometheus counters: cache hits and misses, downstream errors, degraded answers."""
        return metrics.render()

    for router in (
        auth.router,
        songs.router,
        charts.router,
        me.router,
        admin.router,
        recommend.router,
        mixes.router,
        radio.router,
        playlists.router,
        audio.router,
        listenbrainz.router,
        library.router,
        library.admin,
        subsonic.router,
    ):
        app.include_router(router)
    document_errors(app)  # the schema names the errors that app-wide mechanisms answer with

    # Last: a mount at "/" would otherwise shadow every route registered after it.
    if settings.serve_frontend and settings.frontend_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    return app
