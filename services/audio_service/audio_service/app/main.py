"""audio_service's FastAPI application (thin HTTP layer over :mod:`audio_service.core`)."""

from __future__ import annotations

from fastapi import FastAPI
from musicrec_common.schemas import HealthResponse
from musicrec_common.web import install_error_handlers

from audio_service import __version__
from audio_service.app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Music recommendations: audio_service", version=__version__)
    install_error_handlers(app)

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def health() -> HealthResponse:
        # The CNN and the FAISS index arrive with issue 4; until then the service only reports itself.
        return HealthResponse(
            service="audio_service", version=__version__, status="ok", info={"model_version": None, "index_size": 0}
        )

    return app
