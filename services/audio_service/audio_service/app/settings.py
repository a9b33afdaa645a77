"""audio_service settings, from environment variables."""

from __future__ import annotations

from functools import lru_cache

from musicrec_common.settings import BaseServiceSettings
from pydantic import Field


class Settings(BaseServiceSettings):
    port: int = Field(default=8002, alias="AUDIO_PORT", description="audio_service HTTP port")
    max_upload_mb: float = Field(default=20.0, alias="AUDIO_MAX_UPLOAD_MB", description="Largest accepted upload")

    model_config = BaseServiceSettings.model_config | {"populate_by_name": True}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
