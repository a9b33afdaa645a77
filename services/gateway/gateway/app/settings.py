"""Gateway settings, from environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from musicrec_common.settings import INSECURE_DEFAULTS, REPO_ROOT, BaseServiceSettings, ProductionConfigError
from pydantic import Field, field_validator, model_validator

from gateway.core.modes import MODES

DEMO_PASSWORD_MIN_LENGTH = 12


class Settings(BaseServiceSettings):
    port: int = Field(default=8000, alias="GATEWAY_PORT", description="Gateway HTTP port")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite file `VAR_DIR/musicrec.db` (WAL mode)"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6390/0", description="Redis used as the cache")
    cf_service_url: str = Field(default="http://127.0.0.1:8001", description="Base URL of cf_service")
    audio_service_url: str = Field(default="http://127.0.0.1:8002", description="Base URL of audio_service")
    admin_password: str | None = Field(
        default=None, description="Password of the `admin` account; generated when unset (local mode)"
    )
    demo_password: str | None = Field(
        default=None,
        description="Password of the demo accounts (`create-demo-users`); generated when unset in local mode, "
        "demo accounts are not created in production unless it is set (12+ characters)",
    )
    session_ttl_hours: float = Field(default=336.0, gt=0, description="Lifetime of a login session (14 days)")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per username and per client address before 429"
    )
    login_window_s: float = Field(default=300.0, gt=0, description="Window of the failed-login limit, in seconds")
    audio_query_limit: int = Field(
        default=30,
        ge=1,
        description="Sound searches (`POST /api/audio/query`, open to anonymous clients, each a CNN inference) "
        "per client address per window before 429",
    )
    audio_query_window_s: float = Field(default=60.0, gt=0, description="Window of the sound-search limit, in seconds")
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API cross-origin; empty: same-origin only",
    )
    frontend_dir: Path = Field(default=REPO_ROOT / "frontend", description="Static files served at `/` in local mode")
    serve_frontend: bool = Field(default=True, description="Serve the frontend (compose puts nginx in front instead)")
    service_timeout_s: float = Field(default=2.0, description="Timeout of calls to cf_service and audio_service")
    redis_timeout_s: float = Field(default=0.5, description="Timeout of Redis calls")
    hybrid_cf_weight: float = Field(default=1.0, ge=0, description="Weight of listening-based songs in hybrid fusion")
    hybrid_audio_weight: float = Field(default=0.8, ge=0, description="Weight of sound-alike songs in hybrid fusion")
    music_dir: Path | None = Field(
        default=None,
        description="Your music folder: `make run` scans it (`scan-library`) and its files are played from there "
        "(read only, never copied)",
    )
    audio_admin_token: str | None = Field(
        default=None,
        alias="AUDIO_ADMIN_TOKEN",
        description="audio_service's admin token: the gateway sends it when it asks for the library's sound analysis",
    )
    library_sync_s: float = Field(
        default=300.0,
        gt=0,
        description="How often the gateway sends the music folder's files to audio_service for sound analysis "
        "(files already analysed are skipped there)",
    )
    recs_default_mode: str = Field(
        default="hybrid",
        description="Recommendation mode when a request names none; a row of the mode table "
        "(gateway.core.modes): " + ", ".join(MODES),
    )
    worker_threads: int = Field(default=8, ge=1, le=200, description="Threads for database and other blocking work")
    recs_cache_ttl_s: int = Field(default=300, ge=1, description="TTL of cached recommendation and similar lists")
    cf_on_demand_ttl_s: int = Field(
        default=86_400,
        ge=1,
        description="TTL of a cf list scored on demand for a listener without a precomputed one (kept under the "
        "precomputed list's key; a new model version replaces it)",
    )
    session_cache_ttl_s: int = Field(
        default=60,
        ge=1,
        description="How long Redis may answer for a login session before the database is asked again "
        "(logout deletes the entry at once)",
    )
    stamp_cache_ttl_s: int = Field(
        default=300, ge=1, description="TTL of a user's cached state stamp (rewritten after every play or rating)"
    )
    max_import_mb: float = Field(
        default=200.0, gt=0, description="Largest listening-history export accepted by `POST /api/me/imports`"
    )
    credentials_secret: str | None = Field(
        default=None,
        alias="CREDENTIALS_SECRET",
        description="Encrypts the app passwords Subsonic apps log in with; required in production, generated "
        "into `VAR_DIR/credentials.secret` when unset in local mode (changing it invalidates every app password)",
    )
    max_upload_mb: float = Field(default=20.0, gt=0, description="Largest clip accepted by `POST /api/audio/query`")

    model_config = BaseServiceSettings.model_config | {"populate_by_name": True}

    def secret_fields(self) -> dict[str, str | None]:
        return {"ADMIN_PASSWORD": self.admin_password, "CREDENTIALS_SECRET": self.credentials_secret}

    @model_validator(mode="after")
    def _check_demo_password(self) -> Settings:
        # Unset is fine (no demo accounts in production); a weak value is a mistake worth refusing.
        if (
            self.app_mode == "production"
            and self.demo_password is not None
            and not demo_password_is_strong(self.demo_password)
        ):
            raise ProductionConfigError(
                f"production mode refuses a default or short DEMO_PASSWORD (min {DEMO_PASSWORD_MIN_LENGTH} characters)"
            )
        return self

    @field_validator("recs_default_mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value not in MODES:
            raise ValueError(f"RECS_DEFAULT_MODE must be one of {sorted(MODES)}")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def production(self) -> bool:
        return self.app_mode == "production"

    def effective_credentials_secret(self) -> str:
        """CREDENTIALS_SECRET, or in local mode the one kept in ``var_dir`` (created on first use)."""
        if self.credentials_secret:
            return self.credentials_secret
        from gateway.core.credentials import local_secret

        return local_secret(self.var_dir)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'musicrec.db'}"


def demo_password_is_strong(value: str) -> bool:
    return value.lower() not in INSECURE_DEFAULTS and len(value) >= DEMO_PASSWORD_MIN_LENGTH


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
