"""Settings helpers shared by every service (pydantic-settings).

Each service defines one ``Settings`` class deriving from :class:`BaseServiceSettings`.
Values come from environment variables; a production deployment must set its
secrets explicitly, and :meth:`BaseServiceSettings.check_production` refuses the
insecure defaults that local mode uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]

# Values that only ever make sense on a developer's machine.
INSECURE_DEFAULTS = frozenset(
    {"", "change-me", "changeme", "dev-secret", "admin", "password", "demo", "secret", "password123"}
)


class ProductionConfigError(ValueError):
    """Raised at start-up when production mode is missing a secret."""


class BaseServiceSettings(BaseSettings):
    """Fields every service has; env names are unprefixed (``APP_MODE``, ``DATA_DIR`` ...)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_mode: Literal["local", "production"] = Field(
        default="local", description="`production` refuses default secrets and passwords"
    )
    host: str = Field(default="127.0.0.1", description="Interface the service binds to")
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Shipped data (read-only)")
    var_dir: Path = Field(default=REPO_ROOT / "var", description="Generated files: models, indexes, audio, database")
    log_level: str = Field(default="info", description="Log level")

    def secret_fields(self) -> dict[str, str | None]:
        """Fields that must be set to a non-default value in production; overridden per service."""
        return {}

    @model_validator(mode="after")
    def _check_production(self) -> BaseServiceSettings:
        if self.app_mode == "production":
            bad = [
                name
                for name, value in self.secret_fields().items()
                if value is None or value in INSECURE_DEFAULTS or len(value) < 8
            ]
            if bad:
                raise ProductionConfigError(
                    "production mode refuses missing or default values for: " + ", ".join(sorted(bad))
                )
        return self
