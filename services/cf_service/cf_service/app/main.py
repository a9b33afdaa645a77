"""cf_service's FastAPI application (thin HTTP layer over :mod:`cf_service.core`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline
from musicrec_common.web import install_error_handlers

from cf_service import __version__
from cf_service.app.holder import ModelHolder
from cf_service.app.routes import router
from cf_service.app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(app.state.holder.reload)
        yield

    # FastAPIOffline: the docs pages without a CDN (the product runs offline)
    app = FastAPIOffline(
        title="Music recommendations: cf_service",
        version=__version__,
        lifespan=lifespan,
        description="Collaborative filtering on play counts: a weighted rank-fusion vote of three models.",
    )
    app.state.settings = settings
    app.state.holder = ModelHolder(settings.effective_model_dir)
    install_error_handlers(app)
    app.include_router(router)
    return app
