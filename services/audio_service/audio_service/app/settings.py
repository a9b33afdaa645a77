"""audio_service settings, from environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from musicrec_common.settings import BaseServiceSettings
from pydantic import Field


class Settings(BaseServiceSettings):
    port: int = Field(default=8002, alias="AUDIO_PORT", description="audio_service HTTP port")
    max_upload_mb: float = Field(default=20.0, gt=0, alias="AUDIO_MAX_UPLOAD_MB", description="Largest accepted upload")
    max_duration_s: float = Field(
        default=600.0, gt=0, alias="AUDIO_MAX_DURATION_S", description="Longest accepted clip, in seconds"
    )
    audio_dir: Path | None = Field(
        default=None, alias="AUDIO_DIR", description="Catalog, models, index and map; default `VAR_DIR/audio`"
    )
    music_dir: Path | None = Field(
        default=None,
        alias="MUSIC_DIR",
        description="Your music folder (the gateway's `MUSIC_DIR`, mounted at the same path): its files are analysed "
        "and indexed when the gateway's scan sends them; files elsewhere are never read",
    )
    library_max_duration_s: float = Field(
        default=3600.0,
        gt=0,
        alias="AUDIO_LIBRARY_MAX_DURATION_S",
        description="Longest library file analysed, in seconds (longer ones are reported as failed)",
    )
    version_model_dir: Path | None = Field(
        default=None,
        alias="AUDIO_VERSION_MODEL_DIR",
        description="The version model (possible versions, plagiarism checks); default the shipped "
        "`DATA_DIR/audio/version_model`",
    )
    version_sync_threads: int | None = Field(
        default=None,
        ge=1,
        alias="AUDIO_VERSION_SYNC_THREADS",
        description="Threads that add songs to the version index in the background (after a reload or the first "
        "start); default the CPU count",
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        alias="AUDIO_BLAS_THREADS",
        description="Threads of each BLAS call of numpy and scipy: the service's products are small and run side "
        "by side, where more threads only spin",
    )
    admin_token: str | None = Field(
        default=None,
        alias="AUDIO_ADMIN_TOKEN",
        description="Bearer token for `POST /admin/reload` and `POST /songs` (writes the index); required in production",
    )

    model_config = BaseServiceSettings.model_config | {"populate_by_name": True}

    def secret_fields(self) -> dict[str, str | None]:
        return {"AUDIO_ADMIN_TOKEN": self.admin_token}

    @property
    def root(self) -> Path:
        return self.audio_dir or self.var_dir / "audio"

    @property
    def model_dir(self) -> Path:
        return self.root / "models"

    @property
    def catalog_dir(self) -> Path:
        return self.root / "catalog"

    @property
    def version_model(self) -> Path:
        return self.version_model_dir or self.data_dir / "audio" / "version_model"

    @property
    def version_index_dir(self) -> Path:
        return self.root / "version_index"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def map_file(self) -> Path:
        return self.root / "map.json"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
