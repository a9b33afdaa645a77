"""cf_service's FastAPI application (thin HTTP layer over :mod:`cf_service.core`)."""

from __future__ import annotations

from fastapi import FastAPI
from musicrec_common.schemas import HealthResponse
from musicrec_common.web import install_error_handlers

from cf_service import __version__
from cf_service.app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Music recommendations: cf_service", version=__version__)
    install_error_handlers(app)

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def health() -> HealthResponse:
        return HealthResponse(
            service="cf_service",
            version=__version__,
            status="ok",
            info={"model_dir": str(settings.effective_model_dir)},
        )

    return app
