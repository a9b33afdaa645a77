"""The gateway's FastAPI application (thin HTTP layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from musicrec_common.schemas import HealthResponse
from musicrec_common.web import install_error_handlers

from gateway import __version__
from gateway.app import health
from gateway.app.settings import Settings, get_settings
from gateway.app.state import AppState
from gateway.db.session import make_engine, make_sessionmaker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        timeout = httpx.Timeout(settings.service_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200)) as http:
            cache = aioredis.Redis.from_url(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
                decode_responses=False,
            )
            app.state.app = AppState(settings, engine, make_sessionmaker(engine), cache, http)
            try:
                yield
            finally:
                await cache.aclose()
                engine.dispose()

    app = FastAPI(
        title="Music recommendations: gateway",
        version=__version__,
        lifespan=lifespan,
        description="The product's public JSON API.",
    )
    install_error_handlers(app)

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def get_health(request: Request) -> HealthResponse:
        """Version and the state of the database, Redis, cf_service and audio_service."""
        return await health.aggregate(request.app.state.app)

    @app.get("/api/health", response_model=HealthResponse, tags=["health"])
    async def get_api_health(request: Request) -> HealthResponse:
        return await health.aggregate(request.app.state.app)

    if settings.serve_frontend and settings.frontend_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    return app
