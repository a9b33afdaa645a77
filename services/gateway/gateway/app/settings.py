"""Gateway settings, from environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from musicrec_common.settings import REPO_ROOT, BaseServiceSettings
from pydantic import Field


class Settings(BaseServiceSettings):
    port: int = Field(default=8000, alias="GATEWAY_PORT", description="Gateway HTTP port")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file `VAR_DIR/musicrec.db` (WAL mode)"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6390/0", description="Redis used as the cache")
    cf_service_url: str = Field(default="http://127.0.0.1:8001", description="Base URL of cf_service")
    audio_service_url: str = Field(default="http://127.0.0.1:8002", description="Base URL of audio_service")
    secret_key: str | None = Field(default=None, description="Signs sessions; required in production")
    admin_password: str | None = Field(
        default=None, description="Password of the `admin` account; generated when unset (local mode)"
    )
    frontend_dir: Path = Field(default=REPO_ROOT / "frontend", description="Static files served at `/` in local mode")
    serve_frontend: bool = Field(default=True, description="Serve the frontend (compose puts nginx in front instead)")
    service_timeout_s: float = Field(default=2.0, description="Timeout of calls to cf_service and audio_service")
    redis_timeout_s: float = Field(default=0.5, description="Timeout of Redis calls")

    model_config = BaseServiceSettings.model_config | {"populate_by_name": True}

    def secret_fields(self) -> dict[str, str | None]:
        return {"SECRET_KEY": self.secret_key, "ADMIN_PASSWORD": self.admin_password}

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'musicrec.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
