"""cf_service settings, from environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from musicrec_common.settings import BaseServiceSettings
from pydantic import Field


class Settings(BaseServiceSettings):
    port: int = Field(default=8001, alias="CF_PORT", description="cf_service HTTP port")
    model_dir: Path | None = Field(
        default=None, alias="CF_MODEL_DIR", description="Versioned model folders; default `VAR_DIR/cf_models`"
    )
    admin_token: str | None = Field(
        default=None,
        alias="CF_ADMIN_TOKEN",
        description="Bearer token for `POST /admin/reload`; required in production",
    )

    model_config = BaseServiceSettings.model_config | {"populate_by_name": True}

    def secret_fields(self) -> dict[str, str | None]:
        return {"CF_ADMIN_TOKEN": self.admin_token}

    @property
    def effective_model_dir(self) -> Path:
        return self.model_dir or self.var_dir / "cf_models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
