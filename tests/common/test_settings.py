"""Settings come from the environment; production mode refuses default secrets."""

from __future__ import annotations

import pytest
from audio_service.app.settings import Settings as AudioSettings
from cf_service.app.settings import Settings as CfSettings
from gateway.app.settings import Settings as GatewaySettings
from pydantic import ValidationError


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9123")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://h:1/2")
    settings = GatewaySettings()
    assert settings.port == 9123
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert settings.redis_url == "redis://h:1/2"


def test_local_mode_defaults_to_sqlite_in_var_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert GatewaySettings().effective_database_url == f"sqlite:///{tmp_path}/musicrec.db"


@pytest.mark.parametrize("secret", [None, "", "change-me", "admin", "short"])
def test_production_refuses_missing_or_default_secrets(monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    monkeypatch.setenv("APP_MODE", "production")
    if secret is None:
        monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ADMIN_PASSWORD", secret)
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
        GatewaySettings()


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MODE", "production")
    monkeypatch.setenv("ADMIN_PASSWORD", "correct horse battery staple")
    monkeypatch.setenv("CREDENTIALS_SECRET", "a-real-credentials-secret")
    monkeypatch.setenv("CF_ADMIN_TOKEN", "t" * 32)
    assert GatewaySettings().app_mode == "production"
    assert CfSettings().admin_token == "t" * 32


def test_production_cf_service_needs_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MODE", "production")
    monkeypatch.delenv("CF_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="CF_ADMIN_TOKEN"):
        CfSettings()


def test_invalid_values_fail_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIO_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        AudioSettings()
    monkeypatch.setenv("APP_MODE", "staging")
    with pytest.raises(ValidationError, match="app_mode"):
        GatewaySettings()
